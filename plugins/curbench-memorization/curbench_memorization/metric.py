"""The memorization metric: how many generated samples are copies of a real instance.

For each generated sample y, let x be its nearest real instance and r(x) the distance from x to
its own nearest other real instance. y is memorized when d(y, x) < r(x): it sits closer to x
than any real point does. Distances are computed in blocks, so no N x M matrix is held.
"""

from __future__ import annotations

import numpy as np

from curbench.errors import InvalidInputError

BLOCK_ROWS = 2048


def _nearest(queries: np.ndarray, points: np.ndarray, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance to, and index of, each query's nearest point (itself excluded when ``exclude_self``)."""
    squared_points = np.einsum("ij,ij->i", points, points)
    best = np.empty(len(queries))
    index = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), BLOCK_ROWS):
        block = queries[start : start + BLOCK_ROWS]
        distances = np.einsum("ij,ij->i", block, block)[:, None] - 2 * block @ points.T + squared_points[None, :]
        if exclude_self:
            distances[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        index[start : start + len(block)] = np.argmin(distances, axis=1)
        best[start : start + len(block)] = np.maximum(distances[np.arange(len(block)), index[start : start + len(block)]], 0)
    return best, index


class Memorization:
    """``Memorization()(real, fake) -> {"memorization": fraction, "nn_distance_ratio": median ratio}``."""

    def __call__(self, real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
        """``memorization``: fraction of fake samples within their nearest real instance's nearest-neighbour radius.

        ``nn_distance_ratio``: the median of those distances over the radius.
        """
        real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
        if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1] or len(real) < 2 or len(fake) < 1:
            raise InvalidInputError(
                f"memorization needs (N, D) real with N >= 2 and (M, D) fake features, got {real.shape} and {fake.shape}"
            )
        radius, _ = _nearest(real, real, exclude_self=True)
        distance, nearest = _nearest(fake, real, exclude_self=False)
        ratio = np.sqrt(distance) / np.maximum(np.sqrt(radius[nearest]), np.finfo(float).tiny)
        return {"memorization": float(np.mean(distance < radius[nearest])), "nn_distance_ratio": float(np.median(ratio))}
