"""The streaming nearest-neighbour engine behind the P/R/D/C metrics and the knn scorer.

Squared distances are screened tile by tile in float32 as ``|x|^2 + |y|^2 - 2 x.y``
(one matrix multiply per tile, on CUDA when present) and only O(N * k) state is
kept; no N x N matrix is ever built. Float32 rounding must not change any answer,
so every decision it could change - which points are the k nearest, whether a
point lies in a ball - is re-resolved with the arithmetic of a reference
implementation (an :class:`Arithmetic`). A pair is re-resolved when its float32
value lies within a rigorous rounding-error bound of the decision threshold:

    |F_ij - D_ij^2| <= alpha (c_i + c_j)^2 + beta (r_i + r_j)^2
                    <= b_i + b_j,   b_i = 2 alpha c_i^2 + 2 beta r_i^2,

where F is the float32 screen, D the reference's distance, c the norm after
centring (the screen centres the data), r the raw norm, alpha = (d + 10) u_f32
and beta = (d + 10) u_ref bound the dot-product, norm and output roundings of
the screen and of the reference respectively.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
import torch

from curbench.device import resolve_device
from curbench.errors import InvalidInputError
from curbench.progress import progress
from curbench.validation import check_positive_int

_U32 = 2.0**-24
_U64 = 2.0**-53
_CPU_TILE = 1024
# Extra float32 candidates kept per row so that the exact re-ranking rarely needs a full-row fallback.
_EXTRA_CANDIDATES = 6
# Pairs (times d) re-resolved per vectorised chunk: bounds the temporary float64 copies.
_PAIR_CHUNK_ELEMENTS = 1 << 17
# Rows converted to the float32 screen per step (float64 temporaries of this many rows).
_SCREEN_ROWS = 2048
# torch.cdist switches to a different (non-matmul) arithmetic when both sides have <= 25 rows.
_CDIST_MIN_ROWS = 32

_Grid = TypeVar("_Grid", np.ndarray, torch.Tensor)


class Arithmetic(ABC):
    """How a reference implementation computes one distance; re-resolved pairs use exactly this."""

    name: str
    #: True when the reference ranks a point's own (computed, possibly non-zero) distance among
    #: its neighbours (torch-fidelity's ``kthvalue(k + 1)``); False when it excludes it / sets it to 0.
    include_self: bool = False

    @abstractmethod
    def unit_roundoff(self, a: np.ndarray, b: np.ndarray) -> float:
        """Unit roundoff of the reference's own computation on these input dtypes."""

    @abstractmethod
    def pairs(self, a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """float64 distances between ``a[rows[t]]`` and ``b[cols[t]]`` (``a`` is the reference's first argument)."""


def _pair_chunks(n_pairs: int, d: int) -> Iterator[slice]:
    step = max(1, _PAIR_CHUNK_ELEMENTS // max(d, 1))
    for start in range(0, n_pairs, step):
        yield slice(start, start + step)


def _squared_norms_at(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """float64 |x_i|^2 for i in ``idx``, each row reduced once by the same per-row kernel as the dot products."""
    unique, inverse = np.unique(idx, return_inverse=True)
    norms = np.empty(len(unique))
    for chunk in _pair_chunks(len(unique), x.shape[1]):
        rows = x[unique[chunk]].astype(np.float64)
        norms[chunk] = np.einsum("ij,ij->i", rows, rows)
    return norms[inverse]


class ExactArithmetic(Arithmetic):
    """sqrt(sum((x - y)^2)) in float64: accurate, and exactly 0 for duplicates."""

    name = "exact"

    def unit_roundoff(self, a: np.ndarray, b: np.ndarray) -> float:
        """Float64's unit roundoff, whatever the input dtypes: every pair is computed in float64."""
        return _U64

    def pairs(self, a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """float64 sqrt(sum((a_i - b_j)^2)) per pair, in chunks; exactly 0 for duplicates."""
        out = np.empty(len(rows))
        for chunk in _pair_chunks(len(rows), a.shape[1]):
            diff = a[rows[chunk]].astype(np.float64) - b[cols[chunk]]
            out[chunk] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        return out


class PRDCArithmetic(Arithmetic):
    """``prdc.compute_prdc``'s arithmetic: scikit-learn's ``euclidean_distances``.

    Float32 inputs (both sides) are upcast, ``-2 x.y + |x|^2 + |y|^2`` is formed in
    float64, rounded to float32, clipped at 0 and square-rooted in float32; other
    inputs are computed in float64. Dot products and norms use the same per-row
    reduction, so identical pairs always get identical values and a duplicate gets
    exactly 0 (BLAS gives no such guarantee across matrix shapes, which is also
    why prdc's own float64 results at exact ties depend on its thread split).
    """

    name = "prdc"

    def unit_roundoff(self, a: np.ndarray, b: np.ndarray) -> float:
        """Float64's unit roundoff: scikit-learn forms squared distances in float64, whatever the dtypes."""
        return _U64

    def pairs(self, a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Per pair, float64 ``-2 x.y + |x|^2 + |y|^2`` (float32 for float32 inputs), clipped at 0, square-rooted."""
        single = a.dtype == np.float32 and b.dtype == np.float32
        norms_a, norms_b = _squared_norms_at(a, rows), _squared_norms_at(b, cols)
        out = np.empty(len(rows))
        for chunk in _pair_chunks(len(rows), a.shape[1]):
            dots = np.einsum("ij,ij->i", a[rows[chunk]].astype(np.float64), b[cols[chunk]].astype(np.float64))
            # scikit-learn's order of operations: (-2 x.y + |x|^2) + |y|^2, then float32 for float32 inputs.
            squared = -2 * dots + norms_a[chunk]
            squared += norms_b[chunk]
            if single:
                squared = squared.astype(np.float32)
            out[chunk] = np.sqrt(np.maximum(squared, 0))
        return out


class TorchFidelityArithmetic(Arithmetic):
    """torch-fidelity's arithmetic: ``torch.cdist`` (matmul form) on CPU, in float32 if both inputs are.

    cdist's matmul kernel gives the same bits for a pair whatever block it is in,
    provided both sides of the block have more than 25 rows, so pairs are
    re-resolved in padded blocks of at least 32 x 32.
    """

    name = "torch-fidelity"
    include_self = True

    @staticmethod
    def _dtype(a: np.ndarray, b: np.ndarray) -> type:
        return np.float32 if a.dtype == np.float32 and b.dtype == np.float32 else np.float64

    def unit_roundoff(self, a: np.ndarray, b: np.ndarray) -> float:
        """Float32's unit roundoff when both inputs are float32 (cdist then runs in float32), else float64's."""
        return _U32 if self._dtype(a, b) is np.float32 else _U64

    def pairs(self, a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``torch.cdist`` per pair, in padded blocks of at least 32 x 32 so each pair gets torch-fidelity's bits."""
        dtype = self._dtype(a, b)
        out = np.empty(len(rows))
        order = np.argsort(rows, kind="stable")
        unique_rows, starts = np.unique(rows[order], return_index=True)
        bounds = [*starts, len(order)]
        for g in range(0, len(unique_rows), _CDIST_MIN_ROWS):
            members = order[bounds[g] : bounds[min(g + _CDIST_MIN_ROWS, len(unique_rows))]]
            block_rows = unique_rows[g : g + _CDIST_MIN_ROWS]
            block_cols, col_pos = np.unique(cols[members], return_inverse=True)
            row_pos = np.searchsorted(block_rows, rows[members])
            left = torch.from_numpy(np.ascontiguousarray(a[_padded(block_rows)], dtype=dtype))
            right = torch.from_numpy(np.ascontiguousarray(b[_padded(block_cols)], dtype=dtype))
            block = torch.cdist(left, right).numpy()
            out[members] = block[row_pos, col_pos]
        return out


def _padded(indices: np.ndarray) -> np.ndarray:
    if len(indices) >= _CDIST_MIN_ROWS:
        return indices
    return np.resize(indices, _CDIST_MIN_ROWS)


ARITHMETICS: dict[str, Arithmetic] = {
    arithmetic.name: arithmetic for arithmetic in (ExactArithmetic(), PRDCArithmetic(), TorchFidelityArithmetic())
}


def get_arithmetic(name: str | Arithmetic) -> Arithmetic:
    """The :class:`Arithmetic` named ``name`` (exact, prdc or torch-fidelity); an instance passes through."""
    if isinstance(name, Arithmetic):
        return name
    if name not in ARITHMETICS:
        raise InvalidInputError(f"unknown distance arithmetic '{name}'; use one of {', '.join(ARITHMETICS)}")
    return ARITHMETICS[name]


# --------------------------------------------------------------------------- float32 screen


def _screen_roundoff(device: torch.device) -> float:
    """Unit roundoff of float32 matmuls as torch is configured (TF32/bf16 widen the bound)."""
    precision = torch.get_float32_matmul_precision()
    if precision == "medium":
        return 2.0**-8
    if precision == "high" or (device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32):
        return 2.0**-11
    return _U32


def tile_size(device: torch.device) -> int:
    """Distance-tile side: 1024 on CPU; on CUDA, fitted to a quarter of free memory (1024 to 16384)."""
    if device.type != "cuda":
        return _CPU_TILE
    free, _ = torch.cuda.mem_get_info(device)
    # A tile and its boolean masks take about 12 bytes per entry; use a quarter of free memory.
    side = int((free / 4 / 12) ** 0.5)
    return int(min(max(side // 1024 * 1024, _CPU_TILE), 16384))


@dataclass
class ScreenedPoints:
    """A point set as the float32 screen sees it, with per-point rounding budgets.

    Screen each set once and pass it to every pass that involves it (radii, ball
    memberships); two sets compared with each other must share one ``centre``.
    """

    source: np.ndarray  # the original (N, d) array: re-resolved pairs are computed from it
    centre: np.ndarray  # (d,) float64, the translation applied before the screen
    points: torch.Tensor  # (N, d) float32, centred, on the device
    squared_norms: torch.Tensor  # (N,) float32
    budget: np.ndarray  # (N,) float64, b_i of the module docstring (before beta is added)
    raw_norms: np.ndarray  # (N,) float64

    def __len__(self) -> int:
        return len(self.source)


def screen(x: np.ndarray, *, centre: np.ndarray | None = None, device: str | None = None) -> ScreenedPoints:
    """Screen ``x`` once (centred on ``centre``, by default its own mean) for the passes that use it."""
    torch_device = _device(device)
    centre = x.mean(axis=0, dtype=np.float64) if centre is None else np.asarray(centre, dtype=np.float64)
    # Float32 inputs are centred in float32: any translation leaves distances unchanged, and the
    # subtraction is one correctly rounded step, like the rounding of a float64 difference would be.
    work = torch.float32 if x.dtype == np.float32 else torch.float64
    if work == torch.float32:  # the translation actually applied, so that x = points + centre holds
        centre = centre.astype(np.float32).astype(np.float64)
    d = x.shape[1]
    alpha = (d + 10) * _screen_roundoff(torch_device)
    shift = torch.from_numpy(centre).to(work)
    raw_squared = torch.empty(len(x), dtype=work)
    points = torch.empty(x.shape, dtype=torch.float32, device=torch_device)
    for start in range(0, len(x), _SCREEN_ROWS):
        chunk = slice(start, start + _SCREEN_ROWS)
        rows = torch.from_numpy(np.ascontiguousarray(x[chunk])).to(work)
        raw_squared[chunk] = torch.einsum("ij,ij->i", rows, rows)
        if work == torch.float32 and torch_device.type == "cpu":
            torch.sub(rows, shift, out=points[chunk])  # no temporary copy of the chunk
        else:
            points[chunk] = (rows - shift).to(device=torch_device, dtype=torch.float32)
    squared_norms = torch.einsum("ij,ij->i", points, points)
    # Norms summed in float32 are below the true ones by at most (d + 2) u: inflate them to upper bounds.
    inflate = 1 + 2 * (d + 2) * _U32
    centred_squared = squared_norms.cpu().numpy().astype(np.float64) * inflate
    raw_norms = np.sqrt(raw_squared.numpy().astype(np.float64) * inflate)
    return ScreenedPoints(x, centre, points, squared_norms, 2 * alpha * centred_squared, raw_norms)


def _screened(x: np.ndarray | ScreenedPoints, device: str | None, centre: np.ndarray | None = None) -> ScreenedPoints:
    return x if isinstance(x, ScreenedPoints) else screen(x, centre=centre, device=device)


def screen_pair(
    a: np.ndarray | ScreenedPoints, b: np.ndarray | ScreenedPoints, device: str | None
) -> tuple[ScreenedPoints, ScreenedPoints]:
    """Screens of two sets around one centre (a's mean unless a is already screened); one screen if a is b."""
    sa = _screened(a, device)
    sb = sa if b is a or b is sa.source else _screened(b, device, centre=sa.centre)
    if not np.array_equal(sa.centre, sb.centre):
        raise ValueError("screened point sets compared with each other must share one centre")
    return sa, sb


def _budgets(a: ScreenedPoints, b: ScreenedPoints, beta: float) -> tuple[np.ndarray, np.ndarray]:
    return a.budget + 2 * beta * a.raw_norms**2, b.budget + 2 * beta * b.raw_norms**2


TileObserver = Callable[[ScreenedPoints, ScreenedPoints, slice, slice, torch.Tensor], None]
"""``observe(a, b, rows, cols, dots)``, called for every tile of a pass with the float32 products of the
centred points, ``dots = a.points[rows] @ b.points[cols].T``, before they become squared distances (and
must not be modified). A within-set pass visits each unordered pair once: a tile with ``rows != cols``
also stands for its transpose; a diagonal tile (``rows == cols``) holds both orders and the self-pairs.
Other metrics (KID) reuse the products this way instead of computing them again."""


class Workspace:
    """Buffers reused from tile to tile: a fresh multi-MB tensor is page-faulted in on every allocation,
    which costs as much as the elementwise passes over it (and half a tile's product at d = 256)."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A tensor of ``shape`` (contents undefined) in the buffer ``name``, valid until that buffer is next asked for."""
        size = math.prod(shape)
        buffer = self._buffers.get((name, dtype, device))
        if buffer is None or buffer.numel() < size:
            buffer = self._buffers[name, dtype, device] = torch.empty(size, dtype=dtype, device=device)
        return buffer[:size].view(shape)


def _squared_tile(
    workspace: Workspace, a: ScreenedPoints, b: ScreenedPoints, rows: slice, cols: slice, observe: TileObserver | None
) -> torch.Tensor:
    """The tile's float32 squared distances, in ``workspace`` (valid until the next tile)."""
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    out = workspace.get("tile", shape, a.points.dtype, a.points.device)
    if observe is None:
        torch.addmm(b.squared_norms[None, cols], a.points[rows], b.points[cols].T, alpha=-2, out=out)
    else:
        dots = torch.mm(a.points[rows], b.points[cols].T, out=out)
        observe(a, b, rows, cols, dots)
        dots.mul_(-2).add_(b.squared_norms[None, cols])  # addmm's operations, in its order
    return out.add_(a.squared_norms[rows, None])


def _as_float32(values: np.ndarray, device: torch.device, direction: float) -> torch.Tensor:
    """Round float64 thresholds to float32 one step outwards, so the float32 test stays conservative."""
    rounded = np.nextafter(values.astype(np.float32), np.float32(direction))
    return torch.from_numpy(rounded).to(device)


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device(resolve_device("auto" if device is None else str(device)))


def tiles(n_rows: int, n_cols: int, size: int, same: bool) -> list[tuple[slice, slice, bool]]:
    """The (rows, cols, mirrored) tiles of a pass; a mirrored tile also stands for its transpose.

    Within one set the distance matrix is symmetric, so only tiles on and below the
    diagonal are computed. Row blocks come in order and each starts at column 0, so
    every block is first met as rows.
    """
    found = []
    for i in range(0, n_rows, size):
        rows = slice(i, min(i + size, n_rows))
        for j in range(0, min(i, n_cols) if same else n_cols, size):
            found.append((rows, slice(j, min(j + size, n_cols)), same))
        if same:
            found += _diagonal_tiles(rows, size // 4)
    return found


def _diagonal_tiles(rows: slice, smallest: int) -> list[tuple[slice, slice, bool]]:
    """A diagonal tile as its two diagonal halves (recursively) and the mirrored quarter below them."""
    if rows.stop - rows.start <= max(smallest, 1):
        return [(rows, rows, False)]
    middle = rows.start + (rows.stop - rows.start + 1) // 2
    upper, lower = slice(rows.start, middle), slice(middle, rows.stop)
    return [*_diagonal_tiles(upper, smallest), (lower, upper, True), *_diagonal_tiles(lower, smallest)]


def _flat_below(tile: torch.Tensor, *limits: torch.Tensor, use_numpy: bool | None = None) -> np.ndarray:
    """Row-major flat indices of the tile entries below any of the (broadcast) ``limits``.

    On CPU numpy's compare and flatnonzero are several times faster than torch's on
    such masks (``use_numpy`` defaults to "tile is on the CPU"); this runs once per
    tile, so it is a visible share of a pass.
    """
    if tile.device.type == "cpu" if use_numpy is None else use_numpy:
        return np.flatnonzero(_below_any(tile.numpy(), [limit.numpy() for limit in limits]))
    return _below_any(tile, limits).view(-1).nonzero().view(-1).cpu().numpy()


def _below_any(tile: _Grid, limits: Sequence[_Grid]) -> _Grid:
    """``tile < limits[0] | tile < limits[1] | ...`` for numpy arrays and torch tensors alike."""
    mask = tile < limits[0]
    for limit in limits[1:]:
        mask |= tile < limit
    return mask


# --------------------------------------------------------------------------- k nearest


class _RunningSmallest:
    """Per row, the m smallest values folded in so far and their column indices (-1: none yet).

    Once a row holds m values, only entries below its largest kept value can enter,
    and after a few tiles those are rare: they are gathered sparsely instead of
    running a top-m over the whole tile.
    """

    def __init__(self, n: int, m: int, device: torch.device) -> None:
        self.m = m
        self.values = torch.full((n, m), float("inf"), device=device)
        self.indices = torch.full((n, m), -1, dtype=torch.int64, device=device)
        self.largest = torch.full((n,), float("inf"), device=device)

    def fold(self, tile: torch.Tensor, rows: slice, cols: slice, *, columns: bool = False) -> None:
        """Fold ``tile`` (pairs ``rows`` x ``cols``) into its rows, or into its columns' rows."""
        targets, others = (cols, rows) if columns else (rows, cols)
        largest = self.largest[targets]
        if bool(torch.isinf(largest).any()):  # some row still holds fewer than m values
            axis = 0 if columns else 1
            values, idx = torch.topk(tile, min(self.m, tile.shape[axis]), dim=axis, largest=False, sorted=False)
            if columns:
                values, idx = values.T, idx.T
            self._merge(targets, values, idx + others.start)
            return
        flat = _flat_below(tile, largest[None, :] if columns else largest[:, None])
        if not len(flat):
            return
        values = tile.view(-1)[torch.from_numpy(flat).to(tile.device)]
        local_rows, local_cols = np.divmod(flat, tile.shape[1])
        target, other = (local_cols, local_rows) if columns else (local_rows, local_cols)
        if columns:  # flat indices run row by row: group the entries by column
            order = np.argsort(target, kind="stable")
            target, other, values = target[order], other[order], values[torch.from_numpy(order).to(tile.device)]
        # Lay each target row's entries out in a padded (rows, width) block and merge it.
        row_ids, starts, counts = np.unique(target, return_index=True, return_counts=True)
        slot = np.arange(len(target)) - np.repeat(starts, counts)
        which = np.repeat(np.arange(len(row_ids)), counts)
        place = (torch.from_numpy(which).to(tile.device), torch.from_numpy(slot).to(tile.device))
        padded_values = torch.full((len(row_ids), int(counts.max())), float("inf"), device=tile.device)
        padded_idx = torch.full(padded_values.shape, -1, dtype=torch.int64, device=tile.device)
        padded_values[place] = values
        padded_idx[place] = torch.from_numpy(other + others.start).to(tile.device)
        self._merge(torch.from_numpy(row_ids + targets.start).to(tile.device), padded_values, padded_idx)

    def _merge(self, rows: slice | torch.Tensor, values: torch.Tensor, idx: torch.Tensor) -> None:
        values = torch.cat([self.values[rows], values], dim=1)
        idx = torch.cat([self.indices[rows], idx], dim=1)
        keep_values, keep = torch.topk(values, self.m, dim=1, largest=False, sorted=False)
        self.values[rows] = keep_values
        self.indices[rows] = torch.gather(idx, 1, keep)
        self.largest[rows] = keep_values.max(dim=1).values


def _smallest_candidates(
    q: ScreenedPoints,
    r: ScreenedPoints,
    m: int,
    *,
    same: bool,
    include_self: bool,
    desc: str,
    observe: TileObserver | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query row, the m smallest float32 squared distances to ``r`` and their indices (-1 = none)."""
    device = q.points.device
    smallest = _RunningSmallest(len(q), m, device)
    workspace = Workspace()
    pass_tiles = tiles(len(q), len(r), tile_size(device), same)
    for rows, cols, mirrored in progress(pass_tiles, total=len(pass_tiles), desc=desc, unit="tile"):
        block = _squared_tile(workspace, q, r, rows, cols, observe)
        if same and rows == cols and not include_self:
            block.fill_diagonal_(float("inf"))
        smallest.fold(block, rows, cols)
        if mirrored:
            smallest.fold(block, rows, cols, columns=True)
    return smallest.values.cpu().numpy(), smallest.indices.cpu().numpy()


def _sorted_rows(values: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by (value, index): equal distances are broken by the lower index."""
    by_index = np.argsort(idx, axis=1, kind="stable")
    values, idx = np.take_along_axis(values, by_index, 1), np.take_along_axis(idx, by_index, 1)
    by_value = np.argsort(values, axis=1, kind="stable")
    return np.take_along_axis(values, by_value, 1), np.take_along_axis(idx, by_value, 1)


@dataclass
class _Candidates:
    """Each query row's m smallest float32 squared distances, their indices and the rounding budgets."""

    floats: np.ndarray  # (Nq, m) float64
    indices: np.ndarray  # (Nq, m) int64
    query_budget: np.ndarray  # (Nq,)
    reference_budget: np.ndarray  # (Nr,)
    complete: bool  # every eligible pair is a candidate, so no pair outside them can rank

    def floor(self) -> np.ndarray:
        """Per row, a lower bound on the reference's squared distance of any pair not kept."""
        # A pair not kept has F >= the largest kept F, hence a reference value >= that minus its budget.
        return cast(np.ndarray, self.floats.max(axis=1) - (self.query_budget + self.reference_budget.max()))


def _candidates(
    q: ScreenedPoints,
    r: ScreenedPoints,
    rank: int,
    *,
    include_self: bool,
    arithmetic: Arithmetic,
    observe: TileObserver | None = None,
) -> _Candidates:
    same = q is r
    available = len(r) - (1 if same and not include_self else 0)
    m = min(rank + _EXTRA_CANDIDATES, available)
    floats, cand = _smallest_candidates(
        q, r, m, same=same, include_self=include_self, desc="nearest neighbours", observe=observe
    )
    q_budget, r_budget = _budgets(q, r, _reference_roundoff(arithmetic, q.source, r.source))
    return _Candidates(floats.astype(np.float64), cand, q_budget, r_budget, m == available)


def _k_nearest(
    q: ScreenedPoints, r: ScreenedPoints, rank: int, *, include_self: bool, arithmetic: Arithmetic
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (reference-arithmetic) ``rank`` smallest distances and indices per query row."""
    query, reference, same = q.source, r.source, q is r
    found = _candidates(q, r, rank, include_self=include_self, arithmetic=arithmetic)
    floats, cand = found.floats, found.indices
    margin = found.query_budget + found.reference_budget.max()
    # Only candidates whose float32 value is within twice the error bound of the rank-th can rank in the top.
    rank_th = np.partition(floats, rank - 1, axis=1)[:, rank - 1]
    contender = floats <= (rank_th + 2 * margin)[:, None]
    exact = np.full(cand.shape, np.inf)
    rows, slots = np.nonzero(contender)
    exact[rows, slots] = arithmetic.pairs(query, reference, rows, cand[rows, slots])
    exact, cand = _sorted_rows(exact, cand)
    values, indices = exact[:, :rank], cand[:, :rank]

    if not found.complete:
        unsure = np.flatnonzero(~(values[:, -1] ** 2 < found.floor()))
        if len(unsure):
            values[unsure], indices[unsure] = _full_rows(query, reference, unsure, rank, same, include_self, arithmetic)
    return values, indices


def _kth_nearest(
    points: ScreenedPoints, rank: int, *, include_self: bool, arithmetic: Arithmetic, observe: TileObserver | None
) -> np.ndarray:
    """Exact (reference-arithmetic) ``rank``-th smallest distance per row of ``x`` to ``x``.

    Only the value is needed, so with per-pair bounds [F - e, F + e] on the reference's
    squared distances, the rank-th lies in [L, U] (the rank-th smallest lower and upper
    bounds). Pairs wholly below L certainly rank before it and pairs wholly above U after
    it; only the pairs straddling [L, U] are computed in reference arithmetic.
    """
    x = points.source
    found = _candidates(points, points, rank, include_self=include_self, arithmetic=arithmetic, observe=observe)
    floats, cand = found.floats, found.indices
    error = found.query_budget[:, None] + found.reference_budget[np.maximum(cand, 0)]
    lower, upper = floats - error, floats + error
    low = np.partition(lower, rank - 1, axis=1)[:, rank - 1 : rank]
    high = np.partition(upper, rank - 1, axis=1)[:, rank - 1 : rank]
    below = upper < low
    rows, slots = np.nonzero(~below & ~(lower > high))
    exact = np.full(cand.shape, np.inf)
    exact[rows, slots] = arithmetic.pairs(x, x, rows, cand[rows, slots])
    position = rank - 1 - below.sum(axis=1, keepdims=True)
    values = np.take_along_axis(np.sort(exact, axis=1), position, 1)[:, 0]

    if not found.complete:
        unsure = np.flatnonzero(~(values**2 < found.floor()))
        if len(unsure):
            values[unsure] = _full_rows(x, x, unsure, rank, True, include_self, arithmetic)[0][:, -1]
    return values


def _reference_roundoff(arithmetic: Arithmetic, a: np.ndarray, b: np.ndarray) -> float:
    d: int = a.shape[1]
    return (d + 10) * arithmetic.unit_roundoff(a, b)


def _full_rows(
    query: np.ndarray,
    reference: np.ndarray,
    rows: np.ndarray,
    rank: int,
    same: bool,
    include_self: bool,
    arithmetic: Arithmetic,
) -> tuple[np.ndarray, np.ndarray]:
    """Fallback for rows whose candidates could not be certified: every pair in reference arithmetic."""
    n = len(reference)
    values = np.empty((len(rows), rank))
    indices = np.empty((len(rows), rank), dtype=np.int64)
    for start in range(0, len(rows), _CDIST_MIN_ROWS):
        batch = rows[start : start + _CDIST_MIN_ROWS]
        exact = arithmetic.pairs(query, reference, np.repeat(batch, n), np.tile(np.arange(n), len(batch)))
        exact = exact.reshape(len(batch), n)
        if same and not include_self:
            exact[np.arange(len(batch)), batch] = np.inf
        order = np.argsort(exact, axis=1, kind="stable")[:, :rank]
        values[start : start + len(batch)] = np.take_along_axis(exact, order, 1)
        indices[start : start + len(batch)] = order
    return values, indices


def _checked_k(k: int, n: int, what: str, within: bool) -> int:
    k = check_positive_int(k, "k")
    needed = k + 1 if within else k
    if n < needed:
        raise InvalidInputError(f"{what} has {n} rows but k={k} needs at least {needed}; pass more samples or lower k")
    return k


def nearest_neighbours(
    query: np.ndarray,
    reference: np.ndarray | None = None,
    k: int = 5,
    *,
    arithmetic: str | Arithmetic = "exact",
    device: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of each query row: (distances float64 (Nq, k), indices int64 (Nq, k)).

    ``reference=None`` searches within ``query``, excluding only each point itself
    (a duplicate is a neighbour at distance 0). Rows are sorted by distance, ties
    broken by the lower index. Distances are those of ``arithmetic``.
    """
    same = reference is None
    reference = query if reference is None else reference
    k = _checked_k(k, len(reference), "reference" if not same else "query", within=same)
    r, q = screen_pair(reference, query, device)
    return _k_nearest(q, r, k, include_self=False, arithmetic=get_arithmetic(arithmetic))


def kth_neighbour_radii(
    x: np.ndarray | ScreenedPoints,
    k: int,
    *,
    arithmetic: str | Arithmetic = "exact",
    device: str | None = None,
    observe: TileObserver | None = None,
) -> np.ndarray:
    """Distance from each point to its k-th nearest other point (float64, (N,)).

    With an arithmetic that ranks a point's own computed distance (torch-fidelity),
    this is that reference's (k+1)-th smallest distance of the row, self included.
    ``x`` may be a :func:`screen` shared with other passes (``device`` is then its own).
    ``observe`` sees every tile of the pass (:data:`TileObserver`).
    """
    arithmetic = get_arithmetic(arithmetic)
    k = _checked_k(k, len(x), "points", within=True)
    include_self = arithmetic.include_self
    return _kth_nearest(
        _screened(x, device), k + include_self, include_self=include_self, arithmetic=arithmetic, observe=observe
    )


# --------------------------------------------------------------------------- ball membership


def _near_pairs(block: torch.Tensor, reach_rows: torch.Tensor, reach_cols: torch.Tensor, open_rows: np.ndarray) -> np.ndarray:
    """Flat indices of the pairs that may lie in a row's ball, or in a column's ball for an open row.

    Rows already known to lie in some column ball need no more column-ball checks
    (recall asks for one), which after the first tiles leaves few rows to scan.
    """
    if 2 * len(open_rows) > block.shape[0]:
        return _flat_below(block, reach_rows[:, None], reach_cols[None, :])
    in_row_balls = _flat_below(block, reach_rows[:, None])
    if not len(open_rows):
        return in_row_balls
    local = _flat_below(block[torch.from_numpy(open_rows).to(block.device)], reach_cols[None, :])
    in_col_balls = open_rows[local // block.shape[1]] * block.shape[1] + local % block.shape[1]
    return np.union1d(in_row_balls, in_col_balls)


@dataclass(frozen=True)
class BallMemberships:
    """Which points of two sets lie in which balls, from one streaming pass over the a x b distances."""

    b_in_a_balls: np.ndarray  # (Nb,) int64: how many a-balls contain each b point
    a_ball_hit: np.ndarray  # (Na,) bool: a-ball i contains at least one b point (equivalently, its nearest b)
    a_in_b_balls: np.ndarray  # (Na,) bool: a point i lies in at least one b-ball


def ball_memberships(
    a: np.ndarray | ScreenedPoints,
    b: np.ndarray | ScreenedPoints,
    radii_a: np.ndarray,
    radii_b: np.ndarray,
    *,
    strict: bool = True,
    arithmetic: str | Arithmetic = "prdc",
    device: str | None = None,
    observe: TileObserver | None = None,
) -> BallMemberships:
    """Ball memberships between ``a`` (centres with ``radii_a``) and ``b`` (centres with ``radii_b``).

    A point y is in the ball of x when dist(x, y) < radius (``strict``) or <=.
    Distances are ``arithmetic``'s, with ``a`` as its first argument. When a and b
    are the same array, self-pairs get distance 0 in a zero-self reference
    (scikit-learn does so only for ``X is Y``). Screened inputs must share a centre.
    ``observe`` sees every a x b tile (:data:`TileObserver`).
    """
    arithmetic = get_arithmetic(arithmetic)
    sa, sb = screen_pair(a, b, device)
    a, b = sa.source, sb.source
    zero_self = a is b and not arithmetic.include_self
    budget_a, budget_b = _budgets(sa, sb, _reference_roundoff(arithmetic, a, b))
    radii_a, radii_b = np.asarray(radii_a, np.float64), np.asarray(radii_b, np.float64)
    squared_a, squared_b = radii_a**2, radii_b**2
    inside: Callable[[np.ndarray, np.ndarray], np.ndarray] = (
        (lambda values, radii: values < radii) if strict else (lambda values, radii: values <= radii)
    )
    torch_device = sa.points.device
    # Float32 values at or beyond these put a pair certainly outside the ball, whatever its rounding error.
    reach_a = _as_float32(squared_a + budget_a + budget_b.max(), torch_device, np.inf)
    reach_b = _as_float32(squared_b + budget_b + budget_a.max(), torch_device, np.inf)
    counts = np.zeros(len(b), dtype=np.int64)
    hit = np.zeros(len(a), dtype=bool)
    in_b_ball = np.zeros(len(a), dtype=bool)
    workspace = Workspace()
    pass_tiles = tiles(len(a), len(b), tile_size(torch_device), same=False)
    for rows, cols, _ in progress(pass_tiles, total=len(pass_tiles), desc="ball membership", unit="tile"):
        block = _squared_tile(workspace, sa, sb, rows, cols, observe)
        flat = _near_pairs(block, reach_a[rows], reach_b[cols], open_rows=np.flatnonzero(~in_b_ball[rows]))
        if not len(flat):
            continue
        pair_rows, pair_cols = np.divmod(flat, block.shape[1])
        values = block.view(-1)[torch.from_numpy(flat).to(torch_device)].cpu().numpy().astype(np.float64)
        ga, gb = pair_rows + rows.start, pair_cols + cols.start
        # Per-pair bound |F - D^2| <= b_a + b_b: pairs outside the band around a radius are decided by F.
        margin = budget_a[ga] + budget_b[gb]
        in_a = values < squared_a[ga] - margin
        unsure_a = ~in_a & (values <= squared_a[ga] + margin)
        sure_b = values < squared_b[gb] - margin
        in_b_ball[ga[sure_b]] = True
        # Recall needs one b-ball per a point: points already surely inside one need no more checks.
        unsure_b = ~sure_b & (values <= squared_b[gb] + margin) & ~in_b_ball[ga]
        unsure = np.flatnonzero(unsure_a | unsure_b)
        if len(unsure):
            exact = arithmetic.pairs(a, b, ga[unsure], gb[unsure])
            if zero_self:
                exact[ga[unsure] == gb[unsure]] = 0.0
            in_a[unsure] |= unsure_a[unsure] & inside(exact, radii_a[ga[unsure]])
            in_b_ball[ga[unsure][unsure_b[unsure] & inside(exact, radii_b[gb[unsure]])]] = True
        counts[cols] += np.bincount(gb[in_a] - cols.start, minlength=cols.stop - cols.start)
        hit[ga[in_a]] = True
    return BallMemberships(b_in_a_balls=counts, a_ball_hit=hit, a_in_b_balls=in_b_ball)
