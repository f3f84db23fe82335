"""The streaming k-NN engine against scikit-learn, prdc and torch-fidelity arithmetic."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from prdc.prdc import compute_nearest_neighbour_distances
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from curbench import knn
from curbench.errors import InvalidInputError


@pytest.fixture(params=[2048, 64], ids=["one-tile", "many-tiles"])
def tile(request, monkeypatch):
    """Run each test with one big tile and with many small ones (symmetric off-diagonal tiles included)."""
    monkeypatch.setattr(knn, "_CPU_TILE", request.param)
    return request.param


def test_within_set_neighbours_match_sklearn(tile):
    x = np.random.default_rng(0).standard_normal((300, 12))
    distances, indices = knn.nearest_neighbours(x, None, k=5)
    ref_d, ref_i = NearestNeighbors(n_neighbors=6).fit(x).kneighbors(x)
    np.testing.assert_allclose(distances, ref_d[:, 1:], rtol=1e-12)
    np.testing.assert_array_equal(indices, ref_i[:, 1:])


def test_query_neighbours_match_sklearn(tile):
    rng = np.random.default_rng(1)
    reference, query = rng.standard_normal((250, 7)), rng.standard_normal((130, 7)) + 0.5
    distances, indices = knn.nearest_neighbours(query, reference, k=4)
    ref_d, ref_i = NearestNeighbors(n_neighbors=4).fit(reference).kneighbors(query)
    np.testing.assert_allclose(distances, ref_d, rtol=1e-12)
    np.testing.assert_array_equal(indices, ref_i)


def test_duplicate_is_a_neighbour_at_distance_zero(tile):
    x = np.random.default_rng(2).standard_normal((100, 5))
    x[7] = x[40]
    distances, indices = knn.nearest_neighbours(x, None, k=1)
    assert distances[7, 0] == 0.0 and indices[7, 0] == 40
    assert distances[40, 0] == 0.0 and indices[40, 0] == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radii_equal_prdc(tile, dtype):
    x = np.random.default_rng(3).standard_normal((400, 20)).astype(dtype)
    x[10:15] = x[100:105]  # duplicates, fewer than k per point
    radii, expected = knn.kth_neighbour_radii(x, 5, arithmetic="prdc"), compute_nearest_neighbour_distances(x, 5)
    if dtype == np.float32:  # float32 results are reproduced bit for bit
        np.testing.assert_array_equal(radii, expected)
    else:  # float64 dot products are BLAS-shape dependent in prdc itself: equal to the last bit or two
        np.testing.assert_allclose(radii, expected, rtol=1e-14)


def test_radii_equal_torch_fidelity(tile):
    x = np.random.default_rng(4).standard_normal((300, 40)).astype(np.float32)
    tensor = torch.from_numpy(x)
    expected = torch.cdist(tensor, tensor).kthvalue(6).values.numpy()
    np.testing.assert_array_equal(knn.kth_neighbour_radii(x, 5, arithmetic="torch-fidelity"), expected)


@pytest.mark.parametrize("d", [3, 300])
def test_prdc_arithmetic_is_sklearns_on_float32(d):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((90, d)).astype(np.float32), rng.standard_normal((70, d)).astype(np.float32)
    rows, cols = rng.integers(0, 90, 2000), rng.integers(0, 70, 2000)
    got = knn.get_arithmetic("prdc").pairs(a, b, rows, cols)
    np.testing.assert_array_equal(got, pairwise_distances(a, b)[rows, cols])


def test_torch_fidelity_arithmetic_is_cdist_bit_for_bit():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((200, 64)).astype(np.float32), rng.standard_normal((150, 64)).astype(np.float32)
    rows, cols = rng.integers(0, 200, 500), rng.integers(0, 150, 500)
    full = torch.cdist(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_array_equal(knn.get_arithmetic("torch-fidelity").pairs(a, b, rows, cols), full[rows, cols])


def test_uncertified_rows_fall_back_to_exact_rows(monkeypatch):
    """Integer lattice points tie everywhere: with no spare candidates, rows must be settled in full."""
    monkeypatch.setattr(knn, "_EXTRA_CANDIDATES", 0)
    x = np.random.default_rng(7).integers(0, 3, (200, 3)).astype(np.float64)
    radii = knn.kth_neighbour_radii(x, 5)
    full = pairwise_distances(x)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_array_equal(radii, np.sort(full, axis=1)[:, 4])


@pytest.mark.parametrize("strict", [True, False])
def test_ball_memberships_match_dense_reference(tile, strict):
    rng = np.random.default_rng(8)
    a, b = rng.integers(0, 4, (150, 3)).astype(np.float32), rng.integers(0, 4, (120, 3)).astype(np.float32)
    ra, rb = rng.choice([0.0, 1.0, 1.5, 2.0], 150), rng.choice([0.0, 1.0, 1.5, 2.0], 120)
    members = knn.ball_memberships(a, b, ra, rb, strict=strict)
    dist = pairwise_distances(a, b)
    in_a = dist < ra[:, None] if strict else dist <= ra[:, None]
    in_b = dist < rb[None, :] if strict else dist <= rb[None, :]
    np.testing.assert_array_equal(members.b_in_a_balls, in_a.sum(axis=0))
    np.testing.assert_array_equal(members.a_ball_hit, in_a.any(axis=1))
    np.testing.assert_array_equal(members.a_in_b_balls, in_b.any(axis=1))


def test_bad_arguments_raise_one_clear_error():
    x = np.zeros((5, 2))
    with pytest.raises(InvalidInputError, match="k=5 needs at least 6"):
        knn.kth_neighbour_radii(x, 5)
    with pytest.raises(InvalidInputError, match="positive integer"):
        knn.nearest_neighbours(x, None, k=0)
    with pytest.raises(InvalidInputError, match="unknown distance arithmetic"):
        knn.nearest_neighbours(x, None, k=1, arithmetic="fast")


_PEAK_RSS = """
import json, sys, numpy as np
from pathlib import Path
from curbench import knn

def status(field):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))
    return int(line.split()[1]) * 1024

growth = {}
for n in (5_000, 10_000):
    x = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS high-water mark
    before = status("VmRSS")
    knn.kth_neighbour_radii(x, 5, arithmetic="prdc")
    growth[n] = status("VmHWM") - before
print(json.dumps(growth))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_memory_does_not_grow_quadratically():
    """Doubling N adds 300 MB to a dense float32 distance matrix; the streaming engine adds O(N k) bytes."""
    out = subprocess.run([sys.executable, "-c", _PEAK_RSS], capture_output=True, text=True, check=True)
    growth = {int(n): g for n, g in json.loads(out.stdout).items()}
    dense = 10_000**2 * 4
    assert growth[10_000] < dense / 4, growth
    assert growth[10_000] - growth[5_000] < dense / 40, growth  # 10 MB: tiles are fixed, only O(N k) state grows


def test_device_mask_paths_agree():
    """The torch mask path (used on CUDA) and the numpy path (CPU) list the same entries."""
    rng = np.random.default_rng(9)
    tile = torch.from_numpy(rng.integers(0, 50, (70, 90)).astype(np.float32))
    rows, cols = torch.from_numpy(rng.integers(0, 50, 70).astype(np.float32)), torch.from_numpy(rng.integers(0, 50, 90).astype(np.float32))
    expected = np.flatnonzero((tile.numpy() < rows.numpy()[:, None]) | (tile.numpy() < cols.numpy()[None, :]))
    np.testing.assert_array_equal(knn._flat_below(tile, rows[:, None], cols[None, :]), expected)
    np.testing.assert_array_equal(knn._flat_below(tile, rows[:, None], cols[None, :], use_numpy=False), expected)


def test_tile_observers_see_every_pair_once_and_do_not_change_results(tile):
    """Within a set each unordered pair comes once (off-diagonal tiles stand for their transposes); across sets every pair."""
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((230, 6)).astype(np.float32) + 3, rng.standard_normal((170, 6)).astype(np.float32)

    def observer(n_rows, n_cols, within):
        seen = np.zeros((n_rows, n_cols), dtype=int)

        def observe(sa, sb, rows, cols, dots):
            x, y = sa.source[rows] - sa.centre, sb.source[cols] - sb.centre
            np.testing.assert_allclose(dots.numpy(), x @ y.T, rtol=1e-4, atol=1e-4)
            seen[rows, cols] += 1
            if within and rows != cols:
                seen[cols, rows] += 1

        return observe, seen

    observe, seen = observer(230, 230, within=True)
    np.testing.assert_array_equal(knn.kth_neighbour_radii(a, 5, observe=observe), knn.kth_neighbour_radii(a, 5))
    np.testing.assert_array_equal(seen, 1)

    observe, seen = observer(230, 170, within=False)
    ra, rb = knn.kth_neighbour_radii(a, 5, arithmetic="prdc"), knn.kth_neighbour_radii(b, 5, arithmetic="prdc")
    plain = knn.ball_memberships(a, b, ra, rb)
    observed = knn.ball_memberships(a, b, ra, rb, observe=observe)
    np.testing.assert_array_equal(seen, 1)
    for field in ("b_in_a_balls", "a_ball_hit", "a_in_b_balls"):
        np.testing.assert_array_equal(getattr(observed, field), getattr(plain, field))
