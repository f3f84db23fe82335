"""How well a scorer finds known corrupted instances: those should get the LOWEST scores."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from curbench.errors import InvalidInputError


def detection_scores(scores: np.ndarray, corrupted_mask: np.ndarray, k: int | None = None) -> dict[str, float]:
    """AUROC and precision@k of flagging corrupted instances by low score.

    ``auroc`` is the probability that a random corrupted instance scores lower than a
    random clean one, ties counting one half (Mann-Whitney U); NaN when either side is
    empty. ``precision_at_k`` is the corrupted fraction among the k lowest scores, ties
    broken by lower index first; ``k`` defaults to the number of corrupted instances
    (then precision@k equals recall@k), and precision is NaN when that is 0.
    """
    scores = np.asarray(scores, dtype=np.float64)
    mask = np.asarray(corrupted_mask)
    if scores.ndim != 1 or mask.shape != scores.shape:
        raise InvalidInputError(
            f"scores {scores.shape} and corrupted mask {mask.shape} must be 1-D with one entry per instance"
        )
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise InvalidInputError("corrupted mask must be boolean or 0/1; pass dataset.groups['corrupted']")
        mask = mask.astype(bool)
    if not np.isfinite(scores).all():
        raise InvalidInputError("scores contain NaN or inf; fix the scorer or its features")
    n_corrupted = int(mask.sum())
    n_clean = len(mask) - n_corrupted
    k = n_corrupted if k is None else k
    if not 0 <= k <= len(scores):
        raise InvalidInputError(f"k must be between 0 and the number of instances ({len(scores)}), got {k}")

    auroc = float("nan")
    if n_corrupted and n_clean:
        # Rank by -score so that the lowest scores rank highest; average ranks handle ties.
        ranks = rankdata(-scores)
        u = ranks[mask].sum() - n_corrupted * (n_corrupted + 1) / 2
        auroc = float(u / (n_corrupted * n_clean))
    lowest = np.argsort(scores, kind="stable")[:k]
    precision = float(mask[lowest].mean()) if k else float("nan")
    return {"auroc": auroc, "precision_at_k": precision, "k": k, "n_corrupted": n_corrupted}
