"""Kernel inception distance: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3.

Subsets follow torch-fidelity's scheme exactly: one ``np.random.RandomState(seed)``
draws, per subset, m fake indices then m real indices without replacement, with
m = min(subset_size, n_real, n_fake). The default seed is torch-fidelity's (2020),
so with the same features the subsets are torch-fidelity's.

Only h = k - 1 = t (3 + t (3 + t)), t = x.y / d, is summed: the constant 1 cancels
exactly between the within-set and across-set terms, so
MMD^2 = (H_ff + H_rr) / (m (m - 1)) - 2 H_fr / m^2, with H the sums of h over a subset's pairs.
The real-real sums depend only on the real features and the draw, so they are cached.

Each block of sums (fake-fake, real-fake, real-real) takes whichever route needs fewer operations:

* per subset: its m x m products, in batches of about a million pairs (``torch.bmm``; on CPU a
  within-set product is numpy's symmetric rank-k update, half the flops);
* per tile: every pair of the two sets once (within a set, each unordered pair once), the tile's h
  contracted with the subsets' 0/1 membership matrices, ``((h @ B) * A).sum(0)``, which gives every
  subset's sum from one product per pair. That is fewer products when the sets are small next to
  ``sqrt(subsets) * m``. :func:`curbench.metrics.evaluate` feeds this route from the P/R/D/C passes
  over the same pairs (:data:`curbench.knn.TileObserver`), so there KID computes no products.

Precision. With ``dtype="float32"`` only the matrix products (and their scaling by 1 / d, exact
when d is a power of two) are float32; h, the contraction and every sum are float64. A float32 product of length d is off by about u sqrt(d) |x||y| (u = 2^-24;
roundings of random sign, Higham & Mary 2019) - a per-pair error that averages out over the m^2
pairs of a subset, so H is off by ~u |H| / m, and KID by that times |H| / (m^2 KID), the cancellation
(100 to 1000 for real models). Offsets (below) and sums in float32 would not average out: a float32
offset carries one rounding into all pairs of its point, and float32 sums of ~1000 positive h drift
by ~1e-8 relative, which the cancellation lifts to ~1e-5. The tests hold the result to 1e-6 relative
of torch-fidelity on float64 features (torch-fidelity on float32 features is itself off by ~1e-4).
The shared P/R/D/C tiles hold products of translated points, x - c (c the real mean): the kernel
then needs x.y = (x - c).(y - c) + o_x + o_y, o = c.(x - c) + |c|^2 / 2, added in float64.
``dtype="float64"`` computes the products in float64 too, for bit-level comparisons.
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
# Kernel entries per batched product of the per-subset route (8 MB of float64 h), so that the elementwise
# passes run in cache: out of cache they cost as much as the product itself at d = 256.
_GROUP_ENTRIES = 1 << 20
# Forming and summing h, per pair, counted in matrix-product flops: a few float64 passes, which run from
# memory after each product (~10 ms per million pairs here, the time of ~1000 flops per pair).
_ELEMENTWISE_FLOPS = 1024
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
    precision = torch.get_float32_matmul_precision()  # also governs CUDA's allow_tf32
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)


@dataclass(frozen=True)
class Coordinates:
    """A point set as the products see it: x = points + c, with float64 offsets o / d, o = c.points + |c|^2 / 2.

    Then x.y = points_x . points_y + o_x + o_y. ``offsets`` is None when the points are the raw features (c = 0).
    """

    points: torch.Tensor  # (n, d) on the device
    offsets: torch.Tensor | None = None  # (n,) float64

    @classmethod
    def raw(cls, x: np.ndarray, dtype: torch.dtype, device: torch.device) -> Coordinates:
        """The features themselves (no offsets), as a ``dtype`` tensor on ``device``."""
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
    dots: torch.Tensor,
    d: int,
    offsets: tuple[torch.Tensor, torch.Tensor] | None = None,
    workspace: knn.Workspace | None = None,
) -> torch.Tensor:
    """h = k - 1 = (1 + t)^3 - 1 elementwise in float64, t = dots / d (+ float64 row and column offsets).

    Four passes over the tile: cubing 1 + t and subtracting 1 (exact, 1 + t being near 1) costs about
    2 ulp of 1 per entry, an absolute error that averages out over a subset's pairs.
    """
    workspace = workspace or knn.Workspace()
    one_plus_t = workspace.get("t", tuple(dots.shape), torch.float64, dots.device)
    h = workspace.get("h", tuple(dots.shape), torch.float64, dots.device)
    if offsets is None:
        torch.mul(dots, 1.0 / d, out=one_plus_t).add_(1)  # in float32 for float32 dots, exact for d a power of 2
    else:
        torch.add(*offsets, out=one_plus_t).add_(dots, alpha=1.0 / d).add_(1)
    return torch.pow(one_plus_t, 3, out=h).sub_(1)


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
        self.workspace = knn.Workspace()

    @property
    def complete(self) -> bool:
        """Whether the tiles fed so far covered every ordered pair, so that :attr:`sums` is final."""
        return self.covered == self.n_rows * self.n_cols

    def _member_table(self, side: str, device: torch.device) -> torch.Tensor:
        """(n, subsets) float64 0/1: point i is in subset s on this side (float64, as the contraction needs it)."""
        if (side, device) not in self._members:
            idx, n = (self.rows_idx, self.n_rows) if side == "rows" else (self.cols_idx, self.n_cols)
            table = np.zeros((n, len(idx)))
            table[idx, np.arange(len(idx))[:, None]] = 1.0
            self._members[side, device] = torch.from_numpy(table).to(device)
        return self._members[side, device]

    def __call__(self, a: knn.ScreenedPoints, b: knn.ScreenedPoints, rows: slice, cols: slice, dots: torch.Tensor) -> None:
        """:meth:`add` as a :data:`curbench.knn.TileObserver` (the screens' points are translated features)."""
        if self.a is None:
            self.a = Coordinates.translated(a.points, a.centre)
            self.b = self.a if b is a else Coordinates.translated(b.points, b.centre)
        self.add(rows, cols, dots)

    def _sides(self) -> tuple[Coordinates, Coordinates]:
        if self.a is None or self.b is None:
            raise RuntimeError("KID block sums have no points yet: feed them tiles or call compute()")
        return self.a, self.b

    def add(self, rows: slice, cols: slice, dots: torch.Tensor) -> None:
        """Fold one tile: ``dots`` = products of the points ``rows`` x ``cols`` of the two sides."""
        a, b = self._sides()
        # Both sides are translated (fed as a tile observer) or neither (compute).
        offsets = None if a.offsets is None or b.offsets is None else (a.offsets[rows, None], b.offsets[None, cols])
        h = excess_kernel(dots, a.points.shape[1], offsets, self.workspace)
        diagonal = self.within and rows == cols
        if diagonal:
            h.diagonal().zero_()
        weight = 2 if self.within and not diagonal else 1  # an off-diagonal tile stands for its transpose too
        per_row = h @ self._member_table("cols", h.device)[cols]  # (rows, subsets)
        sums = (per_row * self._member_table("rows", h.device)[rows]).sum(0)
        self.sums += weight * sums.cpu().numpy()
        self.covered += weight * h.numel()

    def compute(self, a: Coordinates, b: Coordinates) -> np.ndarray:
        """Every subset's sum, by the route with fewer operations; ``a`` and ``b`` are the two sides."""
        self.a, self.b = a, b
        subsets, m = self.rows_idx.shape
        d = a.points.shape[1]
        pairs = self.n_rows * self.n_cols / (2 if self.within else 1)
        # Within a subset on CPU the product is symmetric (half the flops); the contraction is float64.
        per_subset_pair = (1 if self.within and a.points.device.type == "cpu" else 2) * d + _ELEMENTWISE_FLOPS
        if pairs * (2 * d + _ELEMENTWISE_FLOPS + 4 * subsets) < subsets * m * m * per_subset_pair:
            self.sums[:], self.covered = 0, 0
            tiles = knn.tiles(self.n_rows, self.n_cols, knn.tile_size(a.points.device), self.within)
            for rows, cols, _ in progress(tiles, total=len(tiles), desc="KID", unit="tile"):
                shape = (rows.stop - rows.start, cols.stop - cols.start)
                dots = self.workspace.get("dots", shape, a.points.dtype, a.points.device)
                self.add(rows, cols, torch.mm(a.points[rows], b.points[cols].T, out=dots))
        else:
            self.sums = self._by_subsets()
        return self.sums

    def _by_subsets(self) -> np.ndarray:
        subsets, m = self.rows_idx.shape
        group = max(1, _GROUP_ENTRIES // (m * m))
        a, b = self._sides()
        points_a, points_b = a.points, b.points
        device, d = points_a.device, points_a.shape[1]
        sums = np.empty(subsets)
        starts = range(0, subsets, group)
        for start in progress(starts, total=len(starts), desc="KID", unit="group"):
            rows = torch.from_numpy(self.rows_idx[start : start + group].ravel()).to(device)
            cols = torch.from_numpy(self.cols_idx[start : start + group].ravel()).to(device)
            g = len(rows) // m
            x = torch.index_select(points_a, 0, rows, out=self.workspace.get("x", (g * m, d), points_a.dtype, device))
            if self.within:  # the same points on both sides
                y = x
            else:
                y = torch.index_select(points_b, 0, cols, out=self.workspace.get("y", (g * m, d), points_b.dtype, device))
            dots = self.workspace.get("dots", (g, m, m), points_a.dtype, device)
            if self.within and device.type == "cpu":
                # numpy forms x x^T as a symmetric rank-k update: half the flops of torch's product.
                for own, out in zip(x.view(g, m, d).numpy(), dots.numpy(), strict=True):
                    np.matmul(own, own.T, out=out)
            else:
                torch.bmm(x.view(g, m, d), y.view(g, m, d).transpose(1, 2), out=dots)
            h = excess_kernel(dots, d, workspace=self.workspace)
            if self.within:
                h.diagonal(dim1=1, dim2=2).zero_()
            sums[start : start + group] = h.sum((1, 2)).cpu().numpy()
        return sums


def _positive_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InvalidInputError(f"KID {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class SharedKID:
    """One KID evaluation whose three blocks of sums can be fed by other passes over the same pairs.

    ``fake`` (fake x fake) and ``cross`` (real rows x fake cols) are :data:`curbench.knn.TileObserver` s
    (``real`` is always None: the real x real sums are KID's own, computed once and cached); :meth:`result` computes whatever they did
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
        # The real x real sums are always KID's own computation, never fed by another pass: a cached value
        # is then exactly what a cold run computes, so results do not depend on what the cache held.
        self.real = None
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
        """Mean and population std of the subsets' MMD^2, computing the blocks the fed tiles left incomplete."""
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
        """KID of fake (M, D) against real (N, D) features over the subsets; the real x real sums are cached."""
        return self.shared(real, fake).result()
