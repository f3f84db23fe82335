"""Side-by-side timings of curbench's metrics and knn scorer against the reference libraries.

Run: ``pytest benchmarks/test_bench_metrics.py --benchmark-columns=min,mean --benchmark-group-by=group``.
Sizes: ``CURBENCH_BENCH_N`` (comma-separated, default "5000,10000"), ``CURBENCH_BENCH_KNN_N``
(default 20000), ``CURBENCH_BENCH_RSS_N`` (default 50000) at ``CURBENCH_BENCH_RSS_D`` (default
"256,2048"), ``CURBENCH_BENCH_KID`` (comma-separated ``REALxFAKExD``, default
"10000x10000x2048,1800x1000x256") and ``CURBENCH_BENCH_CLI_N`` (default 10000, d = 2048). Each case
runs ``CURBENCH_BENCH_ROUNDS`` times (default 1; the minimum is the figure to compare): the cases
take seconds to minutes, and the shared machine is noisy.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from prdc_scale import features
from scipy import linalg
from sklearn.neighbors import NearestNeighbors
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import calculate_precision_recall_full

from curbench.metrics import FID, KID, PRDC
from curbench.scorers.knn import KNNScorer

D = 2048
K = 5
SIZES = [int(n) for n in os.environ.get("CURBENCH_BENCH_N", "5000,10000").split(",")]
KNN_N = int(os.environ.get("CURBENCH_BENCH_KNN_N", "20000"))
RSS_N = int(os.environ.get("CURBENCH_BENCH_RSS_N", "50000"))
RSS_D = [int(d) for d in os.environ.get("CURBENCH_BENCH_RSS_D", "256,2048").split(",")]
KID_CASES = [tuple(int(v) for v in case.split("x")) for case in os.environ.get("CURBENCH_BENCH_KID", "10000x10000x2048,1800x1000x256").split(",")]
CLI_N = int(os.environ.get("CURBENCH_BENCH_CLI_N", "10000"))
ROUNDS = int(os.environ.get("CURBENCH_BENCH_ROUNDS", "1"))
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000


def once(benchmark, function, *args):
    return benchmark.pedantic(function, args=args, rounds=ROUNDS, iterations=1)


@pytest.fixture(autouse=True)
def no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CURBENCH_QUIET", "1")


# ----------------------------------------------------------------------------- P/R/D/C


def _prdc_package(real, fake):
    with contextlib.redirect_stdout(io.StringIO()):
        return compute_prdc(real, fake, K)


def _torch_fidelity_pr(real, fake):
    return calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), K)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("implementation", ["curbench", "curbench-warm-reference", "prdc", "torch-fidelity-PR-only"])
def test_prdc(benchmark, n, implementation):
    benchmark.group = f"PRDC N={n} d={D} k={K}"
    real, fake = features(n, D)
    if implementation == "curbench-warm-reference":
        PRDC(k=K)(real, fake)  # caches the real radii, as the first method of a leaderboard does
    run = {
        "curbench": lambda r, f: PRDC(k=K, cache=False)(r, f),
        "curbench-warm-reference": lambda r, f: PRDC(k=K)(r, f),
        "prdc": _prdc_package,
        "torch-fidelity-PR-only": _torch_fidelity_pr,
    }[implementation]
    result = once(benchmark, run, real, fake)
    benchmark.extra_info["result"] = str(result)


# ----------------------------------------------------------------------------- FID


def _torch_fidelity_fid(real, fake):
    stats = [{"mu": x.mean(axis=0, dtype=np.float64), "sigma": np.cov(x, rowvar=False)} for x in (fake, real)]
    return fid_statistics_to_metric(*stats, False)["frechet_inception_distance"]


def _sqrtm_fid(real, fake):
    (mu_r, cov_r), (mu_f, cov_f) = [(x.mean(axis=0, dtype=np.float64), np.cov(x, rowvar=False)) for x in (real, fake)]
    covmean = linalg.sqrtm(cov_r @ cov_f).real
    return float(np.sum((mu_r - mu_f) ** 2) + np.trace(cov_r) + np.trace(cov_f) - 2 * np.trace(covmean))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("implementation", ["curbench-cold", "curbench-warm-reference", "torch-fidelity", "scipy-sqrtm"])
def test_fid(benchmark, n, implementation):
    benchmark.group = f"FID N={n} d={D}"
    real, fake = features(n, D)
    if implementation == "curbench-warm-reference":
        FID()(real, fake)  # fills the reference cache, as the first method of a leaderboard does
    run = {
        "curbench-cold": lambda r, f: FID(cache=False)(r, f),
        "curbench-warm-reference": lambda r, f: FID()(r, f),
        "torch-fidelity": _torch_fidelity_fid,
        "scipy-sqrtm": _sqrtm_fid,
    }[implementation]
    benchmark.extra_info["result"] = str(once(benchmark, run, real, fake))


# ----------------------------------------------------------------------------- knn scorer


def _sklearn_brute(x):
    distances, _ = NearestNeighbors(n_neighbors=K + 1, algorithm="brute").fit(x).kneighbors(x)
    return -distances[:, K]


def _faiss_flat(x):
    faiss = pytest.importorskip("faiss")
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    squared, _ = index.search(x, K + 1)
    return -np.sqrt(np.maximum(squared[:, K], 0))


def _curbench_approximate(index):
    def run(x):
        scorer = KNNScorer(k=K, index=index).fit(x)
        scores = scorer.score(x)
        return scores, scorer.search_report

    return run


@pytest.mark.parametrize(
    "implementation", ["curbench", "curbench-ivf", "curbench-hnsw", "sklearn-brute", "faiss-flat", "matmul-floor"]
)
def test_knn_scorer(benchmark, implementation):
    """matmul-floor is one float32 N x N x d product; exact within-set search needs half of it (symmetry)."""
    benchmark.group = f"knn scorer N={KNN_N} d={D} K={K}"
    x, _ = features(KNN_N, D)
    if implementation in ("faiss-flat", "curbench-ivf", "curbench-hnsw"):
        pytest.importorskip("faiss")
    run = {
        "curbench": lambda a: KNNScorer(k=K, device="cpu").fit(a).score(a),
        "curbench-ivf": _curbench_approximate("ivf"),
        "curbench-hnsw": _curbench_approximate("hnsw"),
        "sklearn-brute": _sklearn_brute,
        "faiss-flat": _faiss_flat,
        "matmul-floor": lambda a: torch.from_numpy(a) @ torch.from_numpy(a).T,
    }[implementation]
    result = once(benchmark, run, x)
    if implementation.startswith("curbench-"):
        benchmark.extra_info["search"] = result[1].line()
        print(f"\n{implementation}: {result[1].line()}")


def test_matmul_floor(benchmark):
    """One float32 N x N x d product: P/R/D/C needs two of them (halves within each set, one cross)."""
    n = SIZES[0]
    benchmark.group = f"PRDC N={n} d={D} k={K}"
    a = torch.from_numpy(features(n, D)[0])
    once(benchmark, lambda t: t @ t.T, a)


# ----------------------------------------------------------------------------- KID


def _kid_products(real: np.ndarray, fake: np.ndarray, warm: bool) -> None:
    """The float32 products of a per-subset KID: x x^T, x y^T (and y y^T unless the real sums are cached).

    As numpy's BLAS computes them (x x^T as a symmetric rank-k update, half a product), which is
    what torch-fidelity pays. Subsets are contiguous windows, so that nothing but the products is timed.
    """
    m = min(KID_SUBSET_SIZE, len(real), len(fake))
    for s in range(KID_SUBSETS):
        x = fake[(s * m) % (len(fake) - m + 1) :][:m]
        y = real[(s * m) % (len(real) - m + 1) :][:m]
        x @ x.T, x @ y.T
        if not warm:
            y @ y.T


def _torch_fidelity_kid(real, fake):
    m = min(KID_SUBSET_SIZE, len(real), len(fake))
    out = kid_features_to_metric(
        torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=KID_SUBSETS, kid_subset_size=m, verbose=False
    )
    return out["kernel_inception_distance_mean"]


@pytest.mark.parametrize("case", KID_CASES, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize(
    "implementation", ["curbench", "curbench-warm-reference", "torch-fidelity", "gemm-floor", "gemm-floor-warm"]
)
def test_kid(benchmark, case, implementation):
    """gemm-floor: the float32 products alone of 100 subsets (x x^T, x y^T, y y^T per subset; no y y^T when warm).

    torch-fidelity gets float32 features, as its extractors produce them (it then computes in float32).
    """
    n_real, n_fake, d = case
    benchmark.group = f"KID {n_real} real x {n_fake} fake, d={d}, {KID_SUBSETS} subsets"
    real, fake = features(max(n_real, n_fake), d)
    real, fake = real[:n_real], fake[:n_fake]
    if implementation == "curbench-warm-reference":
        KID()(real, fake)  # caches the real-real sums, as the first method of a leaderboard does
    run = {
        "curbench": lambda r, f: KID(cache=False)(r, f)["kid"],
        "curbench-warm-reference": lambda r, f: KID()(r, f)["kid"],
        "torch-fidelity": _torch_fidelity_kid,
        "gemm-floor": lambda r, f: _kid_products(r, f, warm=False),
        "gemm-floor-warm": lambda r, f: _kid_products(r, f, warm=True),
    }[implementation]
    benchmark.extra_info["result"] = str(once(benchmark, run, real, fake))


# ----------------------------------------------------------------------------- the metrics CLI


_EVALUATE = """
import json, sys, numpy as np
from curbench.metrics import evaluate
print(json.dumps(evaluate(np.load(sys.argv[1]), np.load(sys.argv[2]), cache=False)))
"""


# What any exact evaluation of these metrics computes, and nothing else: a new process importing torch, loading the
# files, the float32 products of the three P/R/D/C passes (the engine's tiles: within a set, each pair once), the two
# float64 covariances, and FID's d x d algebra (curbench's own: a Cholesky factor, two triangular products, eigenvalues).
_FLOOR = """
import sys, numpy as np, torch
from curbench import knn
from curbench.metrics.fid import covariance_factor, frechet_distance
real, fake = np.load(sys.argv[1]), np.load(sys.argv[2])
sides = torch.from_numpy(real), torch.from_numpy(fake)
size = knn.tile_size(torch.device("cpu"))
buffer = torch.empty(size * size)
for a, b, same in ((sides[0], sides[0], True), (sides[1], sides[1], True), (sides[0], sides[1], False)):
    for rows, cols, _ in knn.tiles(len(a), len(b), size, same):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        torch.mm(a[rows], b[cols].T, out=buffer[: shape[0] * shape[1]].view(shape))
means, covariances = [], []
for x in (real, fake):
    means.append(x.mean(axis=0, dtype=np.float64))
    centred = np.subtract(x, means[-1])
    covariances.append(centred.T @ centred / (len(x) - 1))
trace = float(np.trace(covariances[0]))
print(frechet_distance(means[0], covariance_factor(covariances[0]), trace, means[1], covariances[1]))
"""


@pytest.mark.parametrize("implementation", ["curbench-metrics-cli", "curbench-evaluate-process", "products-floor", "prdc"])
def test_metrics_cli_against_prdc(benchmark, tmp_path, implementation):
    """All metrics from the .npy files in a new process, with nothing cached, against prdc's P/R/D/C alone.

    ``curbench-metrics-cli`` is ``curbench metrics REAL.npy FAKE.npy --no-cache``; ``curbench-evaluate-process``
    is :func:`curbench.metrics.evaluate` (FID, KID, P/R/D/C, KID sharing the P/R/D/C passes) in a new process;
    ``products-floor`` is the arithmetic alone (``_FLOOR``), the least any exact implementation pays here.
    """
    benchmark.group = f"metrics CLI N={CLI_N} d={D}"
    real, fake = features(CLI_N, D)
    if implementation == "prdc":
        benchmark.extra_info["result"] = str(once(benchmark, _prdc_package, real, fake))
        return
    paths = [str(tmp_path / "real.npy"), str(tmp_path / "fake.npy")]
    for path, array in zip(paths, (real, fake), strict=True):
        np.save(path, array)
    command = {
        "curbench-metrics-cli": [sys.executable, "-m", "curbench", "metrics", *paths, "--json", "--no-cache", "--quiet"],
        "curbench-evaluate-process": [sys.executable, "-c", _EVALUATE, *paths],
        "products-floor": [sys.executable, "-c", _FLOOR, *paths],
    }[implementation]
    out = once(benchmark, lambda: subprocess.run(command, capture_output=True, text=True, check=True))
    benchmark.extra_info["result"] = out.stdout


# ----------------------------------------------------------------------------- memory


@pytest.mark.parametrize("d", RSS_D)
def test_prdc_peak_rss(benchmark, d):
    """Peak RSS of P/R/D/C in a child process (benchmarks/prdc_scale.py), 50k real + 50k fake by default."""
    benchmark.group = f"PRDC peak RSS N={RSS_N} d={d}"
    script = os.path.join(os.path.dirname(__file__), "prdc_scale.py")
    command = [sys.executable, script, str(RSS_N), str(d)]
    out = once(benchmark, lambda: subprocess.run(command, capture_output=True, text=True, check=True))
    peak = json.loads(out.stdout)["peak_rss_bytes"]
    benchmark.extra_info["peak_rss_gb"] = peak / 2**30
    print(f"\nPRDC peak RSS at N={RSS_N}, d={d}: {peak / 2**30:.2f} GB")
