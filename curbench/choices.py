"""The closed sets of values that run settings and plugin records take, defined once for every layer."""

from __future__ import annotations

from typing import Literal

Stage = Literal["data", "sample"]  # curate the training data, or a trained generator's samples
Selection = Literal["per-class", "global"]
SelectionMode = Literal["percentile", "count"]
Tie = Literal["lt", "le"]  # k-NN ball membership: strictly inside, or on the boundary too
