"""Class labels of conditional generators: positions in the sorted training classes."""

from __future__ import annotations

import numpy as np

from curbench.errors import InvalidInputError


def label_index(classes: np.ndarray, labels: np.ndarray, what: str = "labels") -> np.ndarray:
    """Positions of ``labels`` in the sorted training ``classes``; unknown labels are an error."""
    labels = np.asarray(labels)
    positions = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    unknown = classes[positions] != labels
    if unknown.any():
        raise InvalidInputError(
            f"{what} contain classes the model was not trained on (e.g. {labels[unknown][0]}); "
            f"use labels from {classes.tolist()}"
        )
    return positions
