"""Time and peak memory of P/R/D/C (cold, nothing cached) on N real x N fake random features.

Run: ``python benchmarks/prdc_scale.py N D [--device cpu|cuda]``; prints one JSON line with the
wall time, this process's peak RSS (``VmHWM``: a forking parent's pages are not counted, unlike
``ru_maxrss``) and, on CUDA, the peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from curbench.metrics import PRDC


def peak_rss_bytes() -> int:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmHWM"].split()[0]) * 1024


def features(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 real ~ N(0, 1) and fake ~ N(0.02, 1.05^2), as in every metrics benchmark."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d), dtype=np.float32)
    fake = rng.standard_normal((n, d), dtype=np.float32) * np.float32(1.05) + np.float32(0.02)
    return real, fake


def measure(n: int, d: int, device: str = "cpu") -> dict[str, object]:
    real, fake = features(n, d)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = PRDC(device=device, cache=False)(real, fake)
    seconds = time.perf_counter() - start
    report: dict[str, object] = {"n": n, "d": d, "device": device, "seconds": seconds, "metrics": result}
    report["peak_rss_bytes"] = peak_rss_bytes()
    if device.startswith("cuda"):
        report["peak_gpu_bytes"] = torch.cuda.max_memory_allocated()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("d", type=int)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(json.dumps(measure(args.n, args.d, args.device)))


if __name__ == "__main__":
    main()
