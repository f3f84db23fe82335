"""Nearest-neighbour memorization check against held-out data: is a sample closer to what the GAN trained on?

Two equal-size draws in the evaluation space: of the generator's training instances and of the
held-out reference. For each generated sample its nearest neighbour is searched in their union.

- ``nn_train_share``: the fraction of samples whose nearest neighbour is a training instance. A
  generator trained on all the data that is as close to unseen data as to its training data gives
  0.5; copying its training set pushes it toward 1. (A generator trained on a selected subset is
  expected above 0.5 without copying, since its training draw is denser where it samples.)
- ``copies``: the fraction of samples closer to their nearest training instance than that instance
  is to its own nearest other training instance: near-copies.
"""

from __future__ import annotations

import numpy as np

from curbench import streams
from curbench.knn import nearest_neighbours


def memorization_check(train: np.ndarray, heldout: np.ndarray, fake: np.ndarray, *, seed: int) -> dict[str, float]:
    """``{"nn_train_share", "copies", "n_each"}`` for generated features ``fake`` (see the module docstring)."""
    n_each = min(len(train), len(heldout))
    rng = np.random.default_rng([seed, streams.MEMORIZATION])
    trained = train[np.sort(rng.choice(len(train), n_each, replace=False))]
    unseen = heldout[np.sort(rng.choice(len(heldout), n_each, replace=False))]
    _, pooled = nearest_neighbours(fake, np.concatenate([trained, unseen]), k=1)
    distance, nearest = nearest_neighbours(fake, trained, k=1)
    own_radius, _ = nearest_neighbours(trained, k=1)
    return {
        "nn_train_share": float(np.mean(pooled[:, 0] < n_each)),
        "copies": float(np.mean(distance[:, 0] < own_radius[nearest[:, 0], 0])),
        "n_each": float(n_each),
    }
