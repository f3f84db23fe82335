"""Reference rows: what real data scores through the same metric code, with no generator involved.

- ``real``: the metric's ceiling and noise floor at this N. The dataset is split into two
  halves (stratified by label when there are labels, seeded by the cell's seed); one half is
  evaluated against the other exactly like generated samples against the reference.
  Both sides hold about N/2 points, so this row's sample counts are half the generator rows'.
- ``kept``: the selected real instances against the full dataset, i.e. what a generator that
  reproduced its training subset perfectly would score. Every kept point lies in the
  reference, so its precision is 1 by construction; recall, density, coverage and FID
  show what the selection alone costs or gains.
"""

from __future__ import annotations

import numpy as np

from curbench.metrics import evaluate

SPLIT_STREAM = 5  # the half-split draws from its own stream of the cell's seed


def split_half(n: int, labels: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sorted index sets covering ``range(n)``; per label, the first gets the smaller half."""
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    groups = np.zeros(n, dtype=np.int64) if labels is None else np.unique(labels, return_inverse=True)[1]
    first = []
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        first.append(members[: len(members) // 2])
    a = np.sort(np.concatenate(first))
    return a, np.setdiff1d(np.arange(n), a)


def real_reference(
    features: np.ndarray, labels: np.ndarray | None, *, seed: int, k: int, tie: str
) -> dict[str, float]:
    """Metrics of one half of the real data (as 'fake') against the other half (as reference)."""
    candidate, reference = split_half(len(features), labels, seed)
    return evaluate(features[reference], features[candidate], k=k, tie=tie, seed=seed, cache=False)


def kept_reference(features: np.ndarray, kept: np.ndarray, *, seed: int, k: int, tie: str) -> dict[str, float]:
    """Metrics of the kept real instances against all of them."""
    return evaluate(features, features[kept], k=k, tie=tie, seed=seed)
