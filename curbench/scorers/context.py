"""What a scorer that needs more than features (e.g. influence estimation) receives from the runner.

A scorer opts in by declaring ``wants_context=True`` in its registration record; the runner then calls::

    scorer.fit(features, labels, context=ScoringContext(...))

Such a scorer is fitted once on the whole dataset (never per class) and may train
generators itself through ``context.registry`` and ``context.hooks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from curbench.config import RunConfig
    from curbench.datasets.base import Dataset
    from curbench.generators.lifecycle import TrainingHooks
    from curbench.plugins import Registry


@dataclass(frozen=True)
class ScoringContext:
    dataset: Dataset
    features: np.ndarray
    config: RunConfig
    registry: Registry
    hooks: TrainingHooks
    device: str
    work_dir: Path
