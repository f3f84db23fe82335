"""FID, KID and P/R/D/C against prdc, torch-fidelity, scipy and closed forms; evaluate() and its errors."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from scipy import linalg
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import calculate_precision_recall_full

from curbench import knn
from curbench.cache import ArrayCache
from curbench.errors import InvalidInputError
from curbench.metrics import FID, KID, PRDC, evaluate
from curbench.metrics import fid as fid_module
from curbench.metrics import kid as kid_module
from curbench.metrics.reference import NAMESPACE

# ----------------------------------------------------------------------------- P/R/D/C


def _prdc(real, fake, k=5):
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sample counts
        return {name: float(value) for name, value in compute_prdc(real, fake, k).items()}


def _torch_fidelity_pr(real, fake, k=5):
    precision, recall = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), k)
    return precision, recall


def _random(dtype, rng):
    return rng.standard_normal((500, 24)).astype(dtype), (rng.standard_normal((400, 24)) * 1.1 + 0.15).astype(dtype)


def _with_duplicates(dtype, rng):
    real, fake = _random(dtype, rng)
    real[100:130] = real[300:330]  # duplicated real points (fewer than k copies each)
    fake[:60] = real[rng.choice(500, 60, replace=False)]  # memorised samples
    fake[200:210] = fake[210:220]
    return real, fake


def _lattice(dtype, rng):
    """Integer points: distances tie exactly, in every arithmetic."""
    return rng.integers(0, 3, (250, 4)).astype(dtype), rng.integers(0, 3, (200, 4)).astype(dtype)


def _shell(dtype, rng):
    """Fake points at a real point's radius, up to relative offsets where only the last bits decide."""
    real = rng.standard_normal((400, 16)).astype(dtype)
    radii = knn.kth_neighbour_radii(real, 5, arithmetic="prdc")
    centres = rng.integers(0, 400, 300)
    directions = rng.standard_normal((300, 16))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    # float64 data: offsets well above double rounding (prdc resolves exact float64 ties by BLAS rounding
    # noise, which depends on its matrix shapes and threads); float32 data: right down to exact ties.
    offsets = [-1e-7, 1e-7] if dtype == np.float64 else [-1e-7, 0.0, 1e-7, -1e-15, 1e-15]
    scale = radii[centres] * (1 + rng.choice(offsets, 300))
    return real, (real[centres] + directions * scale[:, None]).astype(dtype)


CASES = {"random": _random, "duplicates": _with_duplicates, "lattice": _lattice, "shell": _shell}


@pytest.fixture(params=[2048, 96], ids=["one-tile", "many-tiles"])
def tile(request, monkeypatch):
    monkeypatch.setattr(knn, "_CPU_TILE", request.param)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prdc_identical_to_prdc_package(tile, case, dtype):
    real, fake = CASES[case](dtype, np.random.default_rng(0))
    assert PRDC(k=5, cache=False)(real, fake) == _prdc(real, fake)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tie_le_identical_to_torch_fidelity(tile, case, dtype):
    real, fake = CASES[case](dtype, np.random.default_rng(1))
    ours = PRDC(k=5, tie="le", cache=False)(real, fake)
    precision, recall = _torch_fidelity_pr(real, fake)
    # torch-fidelity averages in float32: equal counts give equal float32 means.
    assert np.float32(ours["precision"]) == np.float32(precision)
    assert np.float32(ours["recall"]) == np.float32(recall)


def test_tie_rule_matters_on_exact_ties():
    real, fake = _lattice(np.float32, np.random.default_rng(2))
    strict, loose = PRDC(tie="lt", cache=False)(real, fake), PRDC(tie="le", cache=False)(real, fake)
    assert loose["precision"] > strict["precision"] and loose["density"] > strict["density"]


def test_prdc_handles_many_duplicates_and_same_array():
    """Radii of exact zero (>= k copies): strict balls are empty, closed balls hold the copies."""
    base = np.random.default_rng(3).standard_normal((20, 6))
    real = np.repeat(base, 7, axis=0)  # every point has 6 exact copies
    strict, loose = PRDC(tie="lt", cache=False)(real, real), PRDC(tie="le", cache=False)(real, real)
    assert strict == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    assert loose["precision"] == loose["recall"] == loose["coverage"] == 1.0
    assert loose["density"] == pytest.approx(7 / 5)


# ----------------------------------------------------------------------------- FID


def _stats(x):
    return x.mean(axis=0), np.cov(x, rowvar=False)


def test_fid_matches_torch_fidelity_and_scipy_sqrtm():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((600, 48)) @ rng.standard_normal((48, 48)) * 0.3
    fake = rng.standard_normal((500, 48)) * 1.2 + 0.1
    ours = FID(cache=False)(real, fake)["fid"]
    (mu_r, cov_r), (mu_f, cov_f) = _stats(real), _stats(fake)
    reference = fid_statistics_to_metric({"mu": mu_f, "sigma": cov_f}, {"mu": mu_r, "sigma": cov_r}, False)
    assert ours == pytest.approx(reference["frechet_inception_distance"], rel=1e-6)
    sqrtm = linalg.sqrtm(cov_r @ cov_f).real
    by_sqrtm = np.sum((mu_r - mu_f) ** 2) + np.trace(cov_r) + np.trace(cov_f) - 2 * np.trace(sqrtm)
    assert ours == pytest.approx(by_sqrtm, rel=1e-6)


def test_fid_closed_form_for_commuting_gaussians():
    """Diagonal covariances: FID = |mu1 - mu2|^2 + sum (sigma1 - sigma2)^2 (standard deviations)."""
    rng = np.random.default_rng(5)
    mu1, mu2 = rng.standard_normal(10), rng.standard_normal(10)
    sd1, sd2 = rng.uniform(0.5, 2, 10), rng.uniform(0.5, 2, 10)
    got = fid_module.frechet_distance(mu1, np.diag(sd1), float(np.sum(sd1**2)), mu2, np.diag(sd2**2))
    assert got == pytest.approx(np.sum((mu1 - mu2) ** 2) + np.sum((sd1 - sd2) ** 2), rel=1e-12)


def test_fid_factor_route_equals_sqrt_route():
    rng = np.random.default_rng(12)
    mu_r, cov_r = _stats(rng.standard_normal((300, 20)) @ rng.standard_normal((20, 20)))
    mu_f, cov_f = _stats(rng.standard_normal((200, 20)))
    by_cholesky = fid_module.frechet_distance(mu_r, np.linalg.cholesky(cov_r), np.trace(cov_r), mu_f, cov_f)
    by_sqrt = fid_module.frechet_distance(mu_r, fid_module.symmetric_sqrt(cov_r), np.trace(cov_r), mu_f, cov_f)
    assert by_cholesky == pytest.approx(by_sqrt, rel=1e-10)


def test_fid_is_finite_and_non_negative_when_n_below_d():
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((30, 100)), rng.standard_normal((20, 100))
    value = FID(cache=False)(real, fake)["fid"]
    assert np.isfinite(value) and value >= 0
    assert FID(cache=False)(real, real.copy())["fid"] == pytest.approx(0, abs=1e-8)


# ----------------------------------------------------------------------------- KID


def _kid_numpy(real, fake, subsets, m, seed):
    """Straightforward unbiased MMD^2 with the cubic kernel, subsets drawn as torch-fidelity draws them."""
    rng = np.random.RandomState(seed)
    d = real.shape[1]
    values = []
    for _ in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))  # noqa: E731
        values.append(off(kxx) + off(kyy) - 2 * kxy.mean())
    return np.mean(values), np.std(values)


def _torch_fidelity_kid(real, fake, subsets, m, **kwargs):
    """torch-fidelity's KID on float64 copies (on float32 it computes in float32, off by ~1e-4 relative)."""
    out = kid_features_to_metric(
        torch.from_numpy(np.asarray(fake, np.float64)), torch.from_numpy(np.asarray(real, np.float64)),
        kid_subsets=subsets, kid_subset_size=m, verbose=False, **kwargs,
    )  # fmt: skip
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def _kid_features(kind, rng):
    """'normal': centred; 'relu': non-negative and far from centred, like Inception pool features."""
    if kind == "normal":
        return rng.standard_normal((600, 64)), rng.standard_normal((500, 64)) * 1.05 + 0.02
    return np.maximum(rng.standard_normal((600, 64)) + 0.3, 0), np.maximum(rng.standard_normal((500, 64)) * 1.05 + 0.33, 0)


# (subsets, subset size) for which each route needs fewer operations at 600 x 500 x 64.
KID_ROUTES = {"per-tile": (10, 400), "per-subset": (2, 240)}


@pytest.mark.parametrize("route", KID_ROUTES)
@pytest.mark.parametrize("kind", ["normal", "relu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kid_matches_numpy_and_torch_fidelity(tile, route, kind, dtype, monkeypatch):
    real, fake = _kid_features(kind, np.random.default_rng(7))
    subsets, m = KID_ROUTES[route]
    by_subsets = []
    original = kid_module.BlockSums._by_subsets
    monkeypatch.setattr(kid_module.BlockSums, "_by_subsets", lambda self: by_subsets.append(1) or original(self))
    ours = KID(subsets=subsets, subset_size=m, seed=2020, dtype=dtype, cache=False)(real, fake)
    assert bool(by_subsets) == (route == "per-subset")
    rel = 1e-10 if dtype == "float64" else 1e-6
    mean, std = _torch_fidelity_kid(real, fake, subsets, m, rng_seed=2020)
    # Each subset's value is good to rel * |kid|, so a small spread over few subsets is good to that too.
    assert ours["kid"] == pytest.approx(mean, rel=rel) and ours["kid_std"] == pytest.approx(std, rel=rel, abs=rel * mean)
    assert ours["kid"] == pytest.approx(_kid_numpy(real, fake, subsets, m, 2020)[0], rel=rel)


def test_kid_default_seed_is_torch_fidelitys():
    real, fake = _kid_features("normal", np.random.default_rng(13))
    ours = KID(subsets=4, subset_size=50, dtype="float64", cache=False)(real, fake)
    mean, std = _torch_fidelity_kid(real, fake, 4, 50)  # torch-fidelity's own default seed
    assert ours["kid"] == pytest.approx(mean, rel=1e-10) and ours["kid_std"] == pytest.approx(std, rel=1e-10)


def test_kid_float32_products_are_true_float32_under_reduced_matmul_precision():
    """TF32/bf16 products would put KID off by ~1e-3; KID forces full float32 and restores the setting."""
    real, fake = _kid_features("relu", np.random.default_rng(14))
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        ours = KID(subsets=5, subset_size=200, cache=False)(real, fake)
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)
    assert ours["kid"] == pytest.approx(_torch_fidelity_kid(real, fake, 5, 200, rng_seed=2020)[0], rel=1e-6)


def test_kid_subset_size_shrinks_to_the_smaller_set():
    rng = np.random.default_rng(8)
    real, fake = rng.standard_normal((60, 5)), rng.standard_normal((40, 5))
    ours = KID(subsets=3, subset_size=1000, seed=1, dtype="float64", cache=False)(real, fake)
    assert ours["kid"] == pytest.approx(_kid_numpy(real, fake, 3, 40, 1)[0], rel=1e-10)


@pytest.mark.parametrize("radii_cached", [False, True])
def test_evaluate_takes_kid_products_from_the_prdc_passes(tile, isolated_cache, monkeypatch, radii_cached):
    """KID's fake-side products come from the P/R/D/C passes; its real x real sums are its own, computed once per
    reference (whether or not the radii were cached) and read from the cache after that."""
    real, fake = (x.astype(np.float32) for x in _kid_features("relu", np.random.default_rng(15)))
    if radii_cached:
        PRDC()(real, fake)
    computed = []
    original = kid_module.BlockSums.compute
    monkeypatch.setattr(kid_module.BlockSums, "compute", lambda self, a, b: computed.append(self) or original(self, a, b))
    result = evaluate(real, fake, kid_subsets=6, kid_subset_size=300)
    assert len(computed) == 1
    mean, std = _torch_fidelity_kid(real, fake, 6, 300)
    assert result["kid"] == pytest.approx(mean, rel=1e-6) and result["kid_std"] == pytest.approx(std, rel=1e-6)
    assert evaluate(real, fake, kid_subsets=6, kid_subset_size=300) == result and len(computed) == 1


# ----------------------------------------------------------------------------- evaluate and caching


def test_evaluate_returns_every_metric_consistently():
    rng = np.random.default_rng(9)
    real, fake = rng.standard_normal((200, 8)).astype(np.float32), rng.standard_normal((150, 8)).astype(np.float32)
    result = evaluate(real, fake, kid_subsets=5, kid_subset_size=50, cache=False)
    assert set(result) == {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "n_real", "n_fake"}
    assert result["n_real"] == 200 and result["n_fake"] == 150
    assert {k: result[k] for k in ("precision", "recall", "density", "coverage")} == _prdc(real, fake)


def test_reference_statistics_are_cached_and_a_corrupted_entry_is_rebuilt(isolated_cache, monkeypatch):
    rng = np.random.default_rng(10)
    real, fake = rng.standard_normal((120, 6)), rng.standard_normal((100, 6))
    first = evaluate(real, fake, kid_subsets=3, kid_subset_size=40)
    entries = sorted((isolated_cache / NAMESPACE).glob("*.npz"))
    assert len(entries) == 3  # FID moments, k-NN radii, KID real-real sums

    def fail(*args, **kwargs):
        raise AssertionError("reference statistics recomputed although cached")

    with monkeypatch.context() as patch:  # reference-only computations must now come from the cache
        patch.setattr(fid_module, "covariance_factor", fail)
        assert FID()(real, fake) == {"fid": first["fid"]}

    for path in entries:
        path.write_bytes(b"not an npz file")
    assert evaluate(real, fake, kid_subsets=3, kid_subset_size=40) == first
    assert all(ArrayCache(NAMESPACE).get(path.stem) is not None for path in entries)


def test_cached_radii_are_reused(isolated_cache, monkeypatch):
    rng = np.random.default_rng(11)
    real, fake = rng.standard_normal((100, 4)), rng.standard_normal((90, 4))
    expected = PRDC()(real, fake)
    calls = []
    original = knn.kth_neighbour_radii
    monkeypatch.setattr(knn, "kth_neighbour_radii", lambda x, *a, **kw: calls.append(len(x)) or original(x, *a, **kw))
    assert PRDC()(real, fake) == expected
    assert calls == [90]  # only the fake radii were computed


@pytest.mark.parametrize(
    ("real", "fake", "kwargs", "message"),
    [
        (np.zeros((5, 3)), np.zeros((10, 3)), {}, "real features have 5 rows but k=5"),
        (np.zeros((10, 3)), np.zeros((0, 3)), {}, "fake features has shape"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), {}, "NaN or inf"),
        (np.array([["a"] * 3] * 10), np.zeros((10, 3)), {}, "must be numeric"),
        (np.zeros((10, 3)), np.zeros((10, 4)), {}, "3 dimensions but fake features have 4"),
        (np.zeros((10, 3)), np.zeros((10, 3)), {"tie": "leq"}, "tie must be"),
        (np.zeros((10, 3)), np.zeros((10, 3)), {"k": 0}, "positive integer"),
        (np.zeros((10, 3)), np.zeros((10, 3)), {"kid_subsets": 0}, "subsets must be"),
    ],
)
def test_evaluate_rejects_bad_input_with_one_line(real, fake, kwargs, message):
    with pytest.raises(InvalidInputError, match=message) as error:
        evaluate(real, fake, cache=False, **kwargs)
    assert "\n" not in str(error.value)


def test_kid_is_bit_identical_whatever_the_cache_held(tmp_path, monkeypatch):
    """Cold, warm, and warm after only KID or only P/R/D/C ran: the same bits (the cached real x real sums
    are always KID's own computation, never another pass's)."""
    from curbench.metrics import KID, PRDC, kid_and_prdc

    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(900, 24)).astype(np.float32), rng.normal(size=(700, 24)).astype(np.float32)

    def both(cache_dir):
        monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path / cache_dir))
        return kid_and_prdc(KID(subsets=20, subset_size=300), PRDC(k=5), real, fake)[0]

    cold = both("cold")
    assert both("cold") == cold  # warm
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path / "kid-first"))
    KID(subsets=20, subset_size=300)(real, fake)
    assert both("kid-first") == cold
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path / "prdc-first"))
    PRDC(k=5)(real, fake)
    assert both("prdc-first") == cold
