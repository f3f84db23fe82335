"""Kernel inception distance: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3.

Subsets follow torch-fidelity's scheme exactly: one ``np.random.RandomState(seed)``
draws, per subset, m fake indices then m real indices without replacement, with
m = min(subset_size, n_real, n_fake). The default seed is torch-fidelity's (2020),
so with the same features the subsets are torch-fidelity's.

Only h = k - 1 = t (3 + t (3 + t)), t = x.y / d, is summed: the constant 1 cancels
exactly between the within-set and across-set terms, so
MMD^2 = (H_ff + H_rr) / (m (m - 1)) - 2 H_fr / m^2 with H the sums of h over a subset's pairs.

Each subset's three sums come from one of two routes, whichever needs fewer operations:

* per subset: its m x m products, batched over groups of subsets (``torch.bmm``);
* per tile: every pair of the two sets once (within a set, each unordered pair once), the tile's h
  contracted with the subsets' 0/1 membership matrices, ``(h @ B) * A`` summed over rows, giving
  all subsets' sums from one product per pair. When most points fall in several subsets (n up to
  about sqrt(subsets) m) this is fewer products; :func:`curbench.metrics.evaluate` also takes the
  products from the P/R/D/C passes over the same pairs (:data:`curbench.knn.TileObserver`), so there
  KID costs no products of its own.

Precision (``dtype="float32"``). Points are translated by the real mean c before the float32
products, x.y = p.q + o_x + o_y with o = c.p + |c|^2 / 2 formed in float64, so the rounding of
p.q scales with the centred norms. A float32 product of length d is off by about u sqrt(d) |p||q|
(u = 2^-24, rounding errors of random sign; Higham & Mary 2019) and h by 3 (1 + t)^2 times that / d.
Forming h in float32 adds a few u |h|, and the contraction over a tile's columns sums about
m / n of them per (row, subset), also in float32. Those errors are independent across the m^2
pairs of a subset, so they average out in its sums: with unit-variance features at d = 2048 and
m = 1000, |error| of the mean of h is ~1e-10, against KID values of 1e-4 to 1e-1 for real models.
Every sum across rows, tiles and subsets is float64. The tests hold the result to 1e-6 relative of
a float64 computation (torch-fidelity on float64 features). ``dtype="float64"`` does everything in
float64, for bit-level comparisons.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

from curbench import knn
from curbench.device import resolve_device
from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics, checked_inputs
from curbench.progress import progress

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
TORCH_FIDELITY_SEED = 2020
# Kernel entries per batched product of the per-subset route: 4 MB in float32, so that the
# elementwise passes over it run in cache (out of cache they would cost as much as the product at d = 256).
_GROUP_ENTRIES = 1 << 20
# float32 run length in the per-subset sums.
_RUN = 128
# Forming h and summing it, per pair, in the flops of a matrix product (about eight elementwise passes).
_ELEMENTWISE_FLOPS = 64
# Rows per float64 chunk when forming the offsets.
_OFFSET_ROWS = 4096
_REAL_SUMS = "kid-real-excess-sums"


def subset_indices(n_real: int, n_fake: int, subsets: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, fake) index arrays of shape (subsets, m), drawn in torch-fidelity's order."""
    rng = np.random.RandomState(seed)
    real = np.empty((subsets, m), dtype=np.int64)
    fake = np.empty((subsets, m), dtype=np.int64)
    for s in range(subsets):
        fake[s] = rng.choice(n_fake, m, replace=False)
        real[s] = rng.choice(n_real, m, replace=False)
    return real, fake


@contextlib.contextmanager
def full_float32_products() -> Iterator[None]:
    """Matrix products in true float32 inside the block: TF32 or bf16 would put KID off by ~1e-3."""
    precision, tf32 = torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.backends.cuda.matmul.allow_tf32 = tf32


@dataclass(frozen=True)
class Coordinates:
    """A point set as the products see it: x = points + c, with float64 offsets o / d, o = c.points + |c|^2 / 2.

    Then x.y = points_x . points_y + o_x + o_y. ``offsets`` is None when the points are the raw features (c = 0).
    """

    points: torch.Tensor  # (n, d) on the device
    offsets: torch.Tensor | None = None  # (n,) float64

    @classmethod
    def raw(cls, x: np.ndarray, dtype: torch.dtype, device: torch.device) -> Coordinates:
        return cls(torch.from_numpy(x).to(device=device, dtype=dtype))

    @classmethod
    def translated(cls, points: torch.Tensor, centre: np.ndarray) -> Coordinates:
        """Coordinates of ``points``, which are features translated by (exactly) ``centre``."""
        c = torch.from_numpy(np.asarray(centre, dtype=np.float64)).to(points.device)
        offsets = torch.empty(len(points), dtype=torch.float64, device=points.device)
        for start in range(0, len(points), _OFFSET_ROWS):
            offsets[start : start + _OFFSET_ROWS] = points[start : start + _OFFSET_ROWS].double() @ c
        offsets += float(c @ c) / 2
        return cls(points, offsets / points.shape[1])


def excess_kernel(
    dots: torch.Tensor, d: int, offsets: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """h = k - 1 = t (3 + t (3 + t)) elementwise in ``dots``' dtype, t = dots / d (+ row and column offsets).

    Offsets (float64, broadcast against ``dots``) are added in float64 and t is rounded once per pair: a
    float32 offset would carry the same rounding error into every pair of its point, which does not average out.
    """
    t = dots * (1.0 / d) if offsets is None else torch.add(*offsets).add_(dots, alpha=1.0 / d).to(dots.dtype)
    h = t + 3
    return h.mul_(t).add_(3).mul_(t)


def _total(h: torch.Tensor) -> torch.Tensor:
    """float64 sum of each (m, m) block of ``h`` (G, m, m): float32 runs of _RUN entries, float64 across runs.

    Short float32 runs keep partial sums small: float32 sums of ~1000 positive h drift by ~1e-8 relative.
    """
    flat = h.reshape(len(h), -1)
    if flat.dtype == torch.float64:
        return flat.sum(1)
    cut = flat.shape[1] - flat.shape[1] % _RUN
    return flat[:, :cut].reshape(len(h), -1, _RUN).sum(-1).double().sum(1) + flat[:, cut:].double().sum(1)


def _contract(h: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """float64 ``h @ members`` (rows, subsets), summed in float32 over runs of _RUN columns, in float64 across runs."""
    if h.dtype == torch.float64:
        return h @ members
    cut = h.shape[1] - h.shape[1] % _RUN
    runs = torch.einsum("rkj,kjs->krs", h[:, :cut].reshape(len(h), -1, _RUN), members[:cut].reshape(-1, _RUN, members.shape[1]))
    return runs.double().sum(0) + h[:, cut:].double() @ members[cut:].double()


class BlockSums:
    """Per-subset sums of h over one block of pairs: within one set (i != j) or across two sets.

    ``rows``/``cols`` are the (subsets, m) indices of each side. Fed tile by tile (:meth:`add`, or as a
    :data:`curbench.knn.TileObserver`) or computed directly (:meth:`compute`).
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, *, within: bool) -> None:
        self.rows_idx, self.cols_idx, self.within = rows, cols, within
        self.n_rows, self.n_cols = n_rows, n_cols
        self.sums = np.zeros(len(rows))
        self.covered = 0  # ordered pairs accounted for so far
        self._members: dict[tuple[str, torch.device], torch.Tensor] = {}
        self.a: Coordinates | None = None
        self.b: Coordinates | None = None

    @property
    def complete(self) -> bool:
        return self.covered == self.n_rows * self.n_cols

    def _member_table(self, side: str, device: torch.device) -> torch.Tensor:
        """(n, subsets) bool: point i is in subset s on this side."""
        if (side, device) not in self._members:
            idx, n = (self.rows_idx, self.n_rows) if side == "rows" else (self.cols_idx, self.n_cols)
            table = np.zeros((n, len(idx)), dtype=bool)
            table[idx, np.arange(len(idx))[:, None]] = True
            self._members[side, device] = torch.from_numpy(table).to(device)
        return self._members[side, device]

    def __call__(self, a: knn.ScreenedPoints, b: knn.ScreenedPoints, rows: slice, cols: slice, dots: torch.Tensor) -> None:
        """:meth:`add` as a :data:`curbench.knn.TileObserver` (the screens' points are translated features)."""
        if self.a is None:
            self.a = Coordinates.translated(a.points, a.centre)
            self.b = self.a if b is a else Coordinates.translated(b.points, b.centre)
        self.add(rows, cols, dots)

    def add(self, rows: slice, cols: slice, dots: torch.Tensor) -> None:
        """Fold one tile: ``dots`` = products of the points ``rows`` x ``cols`` of the two sides."""
        offsets = None if self.a.offsets is None else (self.a.offsets[rows, None], self.b.offsets[None, cols])
        h = excess_kernel(dots, self.a.points.shape[1], offsets)
        diagonal = self.within and rows == cols
        if diagonal:
            h.diagonal().zero_()
        weight = 2 if self.within and not diagonal else 1  # an off-diagonal tile stands for its transpose too
        per_row = _contract(h, self._member_table("cols", h.device)[cols].to(h.dtype))
        sums = (per_row * self._member_table("rows", h.device)[rows]).sum(0)
        self.sums += weight * sums.cpu().numpy()
        self.covered += weight * h.numel()

    def compute(self, a: Coordinates, b: Coordinates) -> np.ndarray:
        """Every subset's sum, by the route with fewer operations; ``a`` and ``b`` are the two sides."""
        self.a, self.b = a, b
        subsets, m = self.rows_idx.shape
        per_pair = 2 * a.points.shape[1] + _ELEMENTWISE_FLOPS
        pairs = self.n_rows * self.n_cols / (2 if self.within else 1)
        if pairs * (per_pair + 2 * subsets) < subsets * m * m * per_pair:
            self.sums[:], self.covered = 0, 0
            tiles = knn.tiles(self.n_rows, self.n_cols, knn.tile_size(a.points.device), self.within)
            for rows, cols, _ in progress(tiles, total=len(tiles), desc="KID", unit="tile"):
                self.add(rows, cols, a.points[rows] @ b.points[cols].T)
        else:
            self.sums = self._by_subsets()
        return self.sums

    def _by_subsets(self) -> np.ndarray:
        subsets, m = self.rows_idx.shape
        group = max(1, _GROUP_ENTRIES // (m * m))
        device = self.a.points.device
        sums = np.empty(subsets)
        starts = range(0, subsets, group)
        for start in progress(starts, total=len(starts), desc="KID", unit="group"):
            rows = torch.from_numpy(self.rows_idx[start : start + group]).to(device)
            cols = torch.from_numpy(self.cols_idx[start : start + group]).to(device)
            h = excess_kernel(torch.bmm(self.a.points[rows], self.b.points[cols].transpose(1, 2)), self.a.points.shape[1])
            if self.within:
                h.diagonal(dim1=1, dim2=2).zero_()
            sums[start : start + group] = _total(h).cpu().numpy()
        return sums


def _positive_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InvalidInputError(f"KID {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class SharedKID:
    """One KID evaluation whose three blocks of sums can be fed by other passes over the same pairs.

    ``fake`` (fake x fake), ``cross`` (real rows x fake cols) and ``real`` (real x real; None when
    cached) are :data:`curbench.knn.TileObserver` s; :meth:`result` computes whatever they did
    not see completely and returns the metric.
    """

    def __init__(self, kid: KID, reference: ReferenceStatistics, fake: np.ndarray) -> None:
        self.kid, self.reference, self.fake_features = kid, reference, fake
        n_real, n_fake = len(reference.real), len(fake)
        self.m = min(kid.subset_size, n_real, n_fake)
        real_idx, fake_idx = subset_indices(n_real, n_fake, kid.subsets, self.m, kid.seed)
        self.fake = BlockSums(fake_idx, fake_idx, n_fake, n_fake, within=True)
        self.cross = BlockSums(real_idx, fake_idx, n_real, n_fake, within=False)
        self._real = BlockSums(real_idx, real_idx, n_real, n_real, within=True)
        self._real_key = {"n_fake": n_fake, "subsets": kid.subsets, "m": self.m, "seed": kid.seed, "dtype": kid.dtype}
        self.real = None if reference.cached(_REAL_SUMS, **self._real_key) is not None else self._real
        self._coordinates: dict[str, Coordinates] = {}

    def _side(self, name: str) -> Coordinates:
        if name not in self._coordinates:
            x = self.reference.real if name == "real" else self.fake_features
            device = torch.device(resolve_device("auto" if self.kid.device is None else self.kid.device))
            self._coordinates[name] = Coordinates.raw(x, _DTYPES[self.kid.dtype], device)
        return self._coordinates[name]

    def _sums(self, block: BlockSums, a: str, b: str) -> np.ndarray:
        return block.sums if block.complete else block.compute(self._side(a), self._side(b))

    def result(self) -> dict[str, float]:
        with full_float32_products():
            within_fake = self._sums(self.fake, "fake", "fake")
            across = self._sums(self.cross, "real", "fake")
            within_real = self.reference.get(
                _REAL_SUMS, lambda: {"sums": self._sums(self._real, "real", "real")}, **self._real_key
            )["sums"]
        m = self.m
        mmd = (within_fake + within_real) / (m * (m - 1)) - 2 * across / (m * m)
        return {"kid": float(mmd.mean()), "kid_std": float(mmd.std())}


class KID:
    """``KID(...)(real, fake) -> {"kid": mean, "kid_std": std}`` over ``subsets`` random subsets.

    ``seed`` defaults to torch-fidelity's (2020), so the defaults reproduce its subsets. ``dtype``
    is the precision of the products ("float32", the default, ~1e-6 relative or better: see the
    module docstring; "float64" for bit-level comparisons). ``kid_std`` is the population standard
    deviation over subsets, as torch-fidelity reports it. ``device=None`` uses CUDA when present.
    """

    def __init__(
        self,
        subsets: int = 100,
        subset_size: int = 1000,
        seed: int = TORCH_FIDELITY_SEED,
        dtype: str = "float32",
        cache: bool = True,
        device: str | None = None,
    ) -> None:
        self.subsets = _positive_int(subsets, "subsets", 1)
        self.subset_size = _positive_int(subset_size, "subset_size", 2)
        self.seed = _positive_int(seed, "seed", 0)
        if dtype not in _DTYPES:
            raise InvalidInputError(f"KID dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        self.dtype = dtype
        self.cache = bool(cache)
        self.device = device

    def shared(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> SharedKID:
        """A :class:`SharedKID` whose observers other passes over the same pairs can feed."""
        reference, fake = checked_inputs(real, fake, min_rows=2, use_cache=self.cache, why="KID (unbiased MMD)")
        return SharedKID(self, reference, fake)

    def __call__(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> dict[str, float]:
        return self.shared(real, fake).result()
