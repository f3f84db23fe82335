"""Side-by-side timings of curbench's metrics and knn scorer against the reference libraries.

Run: ``pytest benchmarks/test_bench_metrics.py --benchmark-columns=min,mean --benchmark-group-by=group``.
Sizes: ``CURBENCH_BENCH_N`` (comma-separated, default "5000,10000"), ``CURBENCH_BENCH_KNN_N``
(default 20000), ``CURBENCH_BENCH_RSS_N`` (default 50000) at ``CURBENCH_BENCH_RSS_D`` (default
"256,2048"). Each case runs ``CURBENCH_BENCH_ROUNDS`` times (default 1; the minimum is the
figure to compare): the cases take seconds to minutes, and the shared machine is noisy.
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
from scipy import linalg
from sklearn.neighbors import NearestNeighbors
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_prc import calculate_precision_recall_full

from curbench.metrics import FID, PRDC
from curbench.scorers.knn import KNNScorer

D = 2048
K = 5
SIZES = [int(n) for n in os.environ.get("CURBENCH_BENCH_N", "5000,10000").split(",")]
KNN_N = int(os.environ.get("CURBENCH_BENCH_KNN_N", "20000"))
RSS_N = int(os.environ.get("CURBENCH_BENCH_RSS_N", "50000"))
RSS_D = [int(d) for d in os.environ.get("CURBENCH_BENCH_RSS_D", "256,2048").split(",")]
ROUNDS = int(os.environ.get("CURBENCH_BENCH_ROUNDS", "1"))


def features(n: int, d: int = D, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d), dtype=np.float32)
    fake = rng.standard_normal((n, d), dtype=np.float32) * np.float32(1.05) + np.float32(0.02)
    return real, fake


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
    real, fake = features(n)
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
    real, fake = features(n)
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
    x, _ = features(KNN_N)
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
    a = torch.from_numpy(features(n)[0])
    once(benchmark, lambda t: t @ t.T, a)


# ----------------------------------------------------------------------------- memory

_PEAK = """
import json, sys, numpy as np
from pathlib import Path
from curbench.metrics import PRDC
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
real, fake = rng.standard_normal((n, d), dtype=np.float32), rng.standard_normal((n, d), dtype=np.float32)
PRDC(cache=False)(real, fake)
# VmHWM belongs to this process image; ru_maxrss would also count the forking parent's pages.
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
print(json.dumps({"peak_rss_bytes": int(status["VmHWM"].split()[0]) * 1024}))
"""


@pytest.mark.parametrize("d", RSS_D)
def test_prdc_peak_rss(benchmark, d):
    benchmark.group = f"PRDC peak RSS N={RSS_N} d={d}"
    out = once(benchmark, lambda: subprocess.run([sys.executable, "-c", _PEAK, str(RSS_N), str(d)], capture_output=True, text=True, check=True))
    peak = json.loads(out.stdout)["peak_rss_bytes"]
    benchmark.extra_info["peak_rss_gb"] = peak / 2**30
    print(f"\nPRDC peak RSS at N={RSS_N}, d={d}: {peak / 2**30:.2f} GB")
