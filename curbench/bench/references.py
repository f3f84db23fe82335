"""Reference rows: what real data scores through the same metric code, with no generator involved.

- ``real``: the metric's ceiling and noise floor at this N. The dataset is split into two random
  halves (seeded by the cell's seed); one half is evaluated against the other exactly like
  generated samples against the reference. The halves are plain random draws, like a sampler's
  i.i.d. samples: a split stratified by label pairs same-class points across the halves slightly
  more often than within them, which biases KID's unbiased estimate negative (measured on digits
  in `lenet` space: about −33 stratified against −7 ± 16 plain). Both sides hold about N/2
  points, so this row's sample counts are half the generator rows'.
- ``kept``: the selected real instances against the full dataset, i.e. what a generator that
  reproduced its training subset perfectly would score. Every kept point lies in the
  reference, so its precision is 1 by construction; recall, density, coverage and FID
  show what the selection alone costs or gains.
"""

from __future__ import annotations

import numpy as np

from curbench.bench.evaluation import MetricSet

SPLIT_STREAM = 5  # the half-split draws from its own stream of the cell's seed


def split_half(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sorted index sets covering ``range(n)``: a random floor(n/2) and the rest."""
    order = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def real_reference(evaluate: MetricSet, features: np.ndarray, *, seed: int) -> dict[str, float]:
    """The cell's metrics of one half of the real data (as 'fake') against the other half (as reference)."""
    candidate, reference = split_half(len(features), seed)
    return evaluate(features[reference], features[candidate], cache=False)


def kept_reference(evaluate: MetricSet, features: np.ndarray, kept: np.ndarray) -> dict[str, float]:
    """The cell's metrics of the kept real instances against all of them."""
    return evaluate(features, features[kept])
