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

With a held-out reference (a dataset with a ``reference`` split) no half-split is needed: the
ceiling is a draw of as many training instances as a generator row samples, evaluated against the
held-out reference, so the ceiling row has the generator rows' sample counts; the kept instances
are evaluated against the held-out reference too, so their precision is no longer 1 by construction.
"""

from __future__ import annotations

import numpy as np

from curbench import streams
from curbench.bench.evaluation import MetricSet


def split_half(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sorted index sets covering ``range(n)``: a random floor(n/2) and the rest."""
    order = np.random.default_rng([seed, streams.REFERENCE_SPLIT]).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def real_reference(evaluate: MetricSet, features: np.ndarray, *, seed: int) -> dict[str, float]:
    """The cell's metrics of one half of the real data (as 'fake') against the other half (as reference)."""
    candidate, reference = split_half(len(features), seed)
    return evaluate(features[reference], features[candidate], cache=False)


def heldout_real_reference(
    evaluate: MetricSet, reference: np.ndarray, training: np.ndarray, *, n_samples: int, seed: int
) -> dict[str, float]:
    """The cell's metrics of a random draw of ``n_samples`` training instances (as 'fake') against the held-out reference."""
    draw = np.random.default_rng([seed, streams.REFERENCE_SPLIT]).choice(len(training), min(n_samples, len(training)), replace=False)
    return evaluate(reference, training[np.sort(draw)])


def kept_reference(
    evaluate: MetricSet, features: np.ndarray, kept: np.ndarray, reference: np.ndarray | None = None
) -> dict[str, float]:
    """The cell's metrics of the kept real instances against the reference (by default, all of ``features``)."""
    return evaluate(features if reference is None else reference, features[kept])


def reference_rows(
    evaluate: MetricSet, training: np.ndarray, kept: np.ndarray, *, heldout_reference: np.ndarray | None,
    n_samples: int, seed: int,
) -> dict[str, dict[str, float]]:
    """A cell's reference rows from its training features: ``kept`` for a subset, else the ``real`` ceiling.

    Against ``heldout_reference`` when the dataset has one, else against the training data itself.
    """
    if len(kept) < len(training):
        return {"kept": kept_reference(evaluate, training, kept, reference=heldout_reference)}
    if heldout_reference is None:
        return {"real": real_reference(evaluate, training, seed=seed)}
    return {"real": heldout_real_reference(evaluate, heldout_reference, training, n_samples=n_samples, seed=seed)}
