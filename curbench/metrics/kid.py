"""Kernel inception distance: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3.

Subsets follow torch-fidelity's scheme exactly: one ``np.random.RandomState(seed)``
draws, per subset, m fake indices then m real indices without replacement, with
m = min(subset_size, n_real, n_fake). With ``seed=2020`` (torch-fidelity's
default) and the same features the subsets are torch-fidelity's. The real-real
kernel sums depend only on the real features and the draw, so they are cached.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch

from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics, checked_inputs
from curbench.progress import progress

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def subset_indices(n_real: int, n_fake: int, subsets: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, fake) index arrays of shape (subsets, m), drawn in torch-fidelity's order."""
    rng = np.random.RandomState(seed)
    real = np.empty((subsets, m), dtype=np.int64)
    fake = np.empty((subsets, m), dtype=np.int64)
    for s in range(subsets):
        fake[s] = rng.choice(n_fake, m, replace=False)
        real[s] = rng.choice(n_real, m, replace=False)
    return real, fake


def kernel_sum(x: np.ndarray, y: np.ndarray, dtype: torch.dtype, *, off_diagonal: bool) -> float:
    """Sum of k(x_i, y_j) over all pairs (or over i != j), the kernel matrix formed in ``dtype``, summed in float64."""
    gram = torch.from_numpy(x).to(dtype) @ torch.from_numpy(y).to(dtype).T
    kernel = (gram.double() / x.shape[1] + 1) ** 3
    total = kernel.sum()
    if off_diagonal:
        total -= kernel.diagonal().sum()
    return float(total)


def _positive_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InvalidInputError(f"KID {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class KID:
    """``KID(...)(real, fake) -> {"kid": mean, "kid_std": std}`` over ``subsets`` random subsets.

    ``dtype`` is the precision of the kernel matrix products ("float32", the
    default, is accurate to ~1e-6 relative because sums are taken in float64;
    "float64" for bit-level comparisons). ``kid_std`` is the population standard
    deviation over subsets, as torch-fidelity reports it.
    """

    def __init__(
        self, subsets: int = 100, subset_size: int = 1000, seed: int = 0, dtype: str = "float32", cache: bool = True
    ) -> None:
        self.subsets = _positive_int(subsets, "subsets", 1)
        self.subset_size = _positive_int(subset_size, "subset_size", 2)
        self.seed = _positive_int(seed, "seed", 0)
        if dtype not in _DTYPES:
            raise InvalidInputError(f"KID dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        self.dtype = dtype
        self.cache = bool(cache)

    def __call__(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> dict[str, float]:
        reference, fake = checked_inputs(real, fake, min_rows=2, use_cache=self.cache, why="KID (unbiased MMD)")
        real = reference.real
        m = min(self.subset_size, len(real), len(fake))
        real_idx, fake_idx = subset_indices(len(real), len(fake), self.subsets, m, self.seed)
        dtype = _DTYPES[self.dtype]

        def real_sums() -> dict[str, np.ndarray]:
            sums = [kernel_sum(real[i], real[i], dtype, off_diagonal=True) for i in progress(real_idx, desc="KID reference")]
            return {"sums": np.array(sums)}

        cached = reference.get(
            "kid-real-sums",
            real_sums,
            n_fake=len(fake),
            subsets=self.subsets,
            m=m,
            seed=self.seed,
            dtype=self.dtype,
        )["sums"]
        mmd = np.empty(self.subsets)
        for s in progress(range(self.subsets), total=self.subsets, desc="KID", unit="subset"):
            x, y = fake[fake_idx[s]], real[real_idx[s]]
            within = kernel_sum(x, x, dtype, off_diagonal=True) + cached[s]
            across = kernel_sum(x, y, dtype, off_diagonal=False)
            mmd[s] = within / (m * (m - 1)) - 2 * across / (m * m)
        return {"kid": float(mmd.mean()), "kid_std": float(mmd.std())}
