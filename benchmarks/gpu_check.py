"""One prepared check of curbench's GPU paths, to run the moment a GPU is available.

    python benchmarks/gpu_check.py --report gpu_check.json          # one GPU; sized for <= 8 minutes
    python benchmarks/gpu_check.py --cpu --tiny --report check.json # CI: the same sections, tiny, on CPU

Sections (each records its own failure, so one broken part hides nothing else):

* ``metrics``: P/R/D/C, FID and KID on the device at 100k x 2048, and on a 10k subsample against
  the CPU engine: P/R/D/C identical, FID and KID (float64 on CPU) within 1e-6 relative; KID both
  on its own and taking its products from the P/R/D/C passes (:func:`curbench.metrics.kid_and_prdc`).
* ``prdc_scale``: P/R/D/C at 1M x 2048, or the largest N whose time (extrapolated from the 100k run
  as N^2) fits the budget, with peak GPU memory and the time extrapolated to 1M and 1.28M.
* ``dcgan``: the ``dcgan`` generator at 32 x 32 with and without AMP and channels_last (steps/s,
  losses finite), then a run killed after a checkpoint and resumed, which must end with the
  uninterrupted run's weights (deterministic cuDNN).
* ``torchrun``: one process under ``torch.distributed.run`` with NCCL (gloo with ``--cpu``): all_reduce
  and all_gather give the expected values.
* ``embedders``: one batch through ``inception``, ``clip`` and ``swav`` with random-init weight files
  in the real formats (images/s).

The report (written atomically to ``--report``) holds per section its checks, numbers, error and
time; the exit status is 1 when any check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curbench import atomic
from curbench.metrics import FID, KID, PRDC, kid_and_prdc
from curbench.plugins import load_registry

RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Sizes:
    n: int  # rows per side of the metrics run on the device
    d: int
    subsample: int  # rows per side compared with the CPU engine
    kid_subsets: int
    kid_subset_size: int
    scale_n: int  # P/R/D/C target size
    scale_budget_s: float  # largest predicted time for the scale run
    image: int
    train_steps: int
    batch_size: int
    embed_batch: int
    clip: tuple[int, int, int, int, int]  # input resolution, patch, width, layers, output dimension


FULL = Sizes(100_000, 2048, 10_000, 100, 1000, 1_000_000, 180.0, 32, 300, 64, 64, (224, 32, 768, 12, 512))
TINY = Sizes(600, 32, 300, 5, 100, 2000, 30.0, 32, 4, 8, 1, (64, 32, 64, 2, 32))


class Report:
    """Sections with their checks, numbers and errors; written atomically as JSON."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path, self.meta = path, meta
        self.sections: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[dict[str, Any]]:
        """A section's record: ``checks`` (name -> bool) and numbers; an exception fails it and is recorded."""
        record: dict[str, Any] = {"ok": False, "checks": {}, "error": None}
        self.sections[name] = record
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            yield record
            record["ok"] = all(record["checks"].values())
        except Exception as exc:  # a broken section must not hide the others
            record["error"] = f"{type(exc).__name__}: {exc}"
            record["traceback"] = traceback.format_exc()
        record["seconds"] = time.perf_counter() - start
        status = "ok" if record["ok"] else f"FAILED {record['error'] or [k for k, v in record['checks'].items() if not v]}"
        print(f"gpu_check: {name} {status} ({record['seconds']:.1f} s)", file=sys.stderr, flush=True)
        self.write()

    @property
    def passed(self) -> bool:
        return bool(self.sections) and all(s["ok"] for s in self.sections.values())

    def write(self) -> None:
        body = {**self.meta, "passed": self.passed, "seconds": time.perf_counter() - self.started, "sections": self.sections}
        atomic.write_json(self.path, body)


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def features(n: int, d: int, device: torch.device, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 real ~ N(0, 1) and fake ~ N(0.05, 1.1^2), drawn on the device (fast at 1M x 2048)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    real = torch.randn(n, d, generator=generator, device=device)
    fake = torch.randn(n, d, generator=generator, device=device) * 1.1 + 0.05
    return real.cpu().numpy(), fake.cpu().numpy()


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    synchronize()
    start = time.perf_counter()
    result = function()
    synchronize()
    return result, time.perf_counter() - start


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_gpu_bytes() -> int | None:
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


# ----------------------------------------------------------------------------- metrics


def check_metrics(record: dict[str, Any], sizes: Sizes, device: torch.device) -> None:
    kid_options = {"subsets": sizes.kid_subsets, "subset_size": sizes.kid_subset_size, "cache": False}
    real, fake = features(sizes.n, sizes.d, device, seed=0)
    sub_real, sub_fake = real[: sizes.subsample], fake[: sizes.subsample]

    on_device = PRDC(device=str(device), cache=False)
    cpu_prdc = PRDC(device="cpu", cache=False)
    record["prdc_subsample"] = on_device(sub_real, sub_fake)
    record["checks"]["prdc_identical_to_cpu"] = record["prdc_subsample"] == cpu_prdc(sub_real, sub_fake)

    fid_device = FID(cache=False, device=str(device))(sub_real, sub_fake)["fid"]
    fid_cpu = FID(cache=False, device="cpu")(sub_real, sub_fake)["fid"]
    record["fid_relative_difference"] = relative(fid_device, fid_cpu)
    record["checks"]["fid_within_1e-6"] = record["fid_relative_difference"] <= RELATIVE_TOLERANCE

    kid_cpu = KID(device="cpu", dtype="float64", **kid_options)(sub_real, sub_fake)
    kid_device = KID(device=str(device), **kid_options)(sub_real, sub_fake)
    shared_kid, shared_points = kid_and_prdc(KID(device=str(device), **kid_options), on_device, sub_real, sub_fake)
    for name, values in (("kid", kid_device), ("kid_shared", shared_kid)):
        record[f"{name}_relative_difference"] = relative(values["kid"], kid_cpu["kid"])
        record["checks"][f"{name}_within_1e-6"] = record[f"{name}_relative_difference"] <= RELATIVE_TOLERANCE
    record["checks"]["prdc_with_shared_kid_identical"] = shared_points.metrics() == record["prdc_subsample"]

    timings = {}
    for name, run in (
        ("prdc", lambda: on_device(real, fake)),
        ("fid", lambda: FID(cache=False, device=str(device))(real, fake)),
        ("kid", lambda: KID(device=str(device), **kid_options)(real, fake)),
        ("kid_and_prdc", lambda: kid_and_prdc(KID(device=str(device), **kid_options), on_device, real, fake)),
    ):
        reset_peak()
        value, seconds = timed(run)
        timings[name] = {"seconds": seconds, "peak_gpu_bytes": peak_gpu_bytes()}
        if name != "kid_and_prdc":
            record[f"{name}_full"] = value
    record["n"], record["d"], record["subsample"], record["timings"] = sizes.n, sizes.d, sizes.subsample, timings
    record["checks"]["metrics_finite"] = all(
        math.isfinite(v) for name in ("prdc_full", "fid_full", "kid_full") for v in record[name].values()
    )


def check_prdc_scale(record: dict[str, Any], sizes: Sizes, device: torch.device, measured: dict[str, Any] | None) -> None:
    """P/R/D/C at the target N, or the largest N that fits the time budget and the device's memory."""
    if measured and "timings" in measured:
        n0, t0 = measured["n"], measured["timings"]["prdc"]["seconds"]
    else:  # the metrics section failed: measure a small run here
        n0 = max(sizes.n // 10, 100)
        t0 = timed(lambda: PRDC(device=str(device), cache=False)(*features(n0, sizes.d, device, seed=1)))[1]
    n_time = int(n0 * math.sqrt(sizes.scale_budget_s / max(t0, 1e-9)))
    # Two float32 copies per side (host array, device screen) and about 8 GB of tiles and workspace.
    free = torch.cuda.mem_get_info()[0] if device.type == "cuda" else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    n_memory = int(max(free - 8 * 2**30, 0) / (2 * sizes.d * 4 * (1 if device.type == "cuda" else 2)))
    n = max(min(sizes.scale_n, n_time, n_memory), 2 * sizes.subsample)
    record.update(target_n=sizes.scale_n, n=n, d=sizes.d, limited_by_time=n_time < sizes.scale_n, limited_by_memory=n_memory < sizes.scale_n)
    real, fake = features(n, sizes.d, device, seed=1)
    reset_peak()
    result, seconds = timed(lambda: PRDC(device=str(device), cache=False)(real, fake))
    record.update(seconds=seconds, peak_gpu_bytes=peak_gpu_bytes(), metrics=result)
    for target in (1_000_000, 1_280_000):
        record[f"extrapolated_seconds_{target}"] = seconds * (target / n) ** 2
    record["checks"]["prdc_finite"] = all(math.isfinite(v) for v in result.values())


# ----------------------------------------------------------------------------- DCGAN


class StepClock:
    """Training hooks (the facade's three methods): times generator steps, keeps losses, may kill or convert."""

    def __init__(self, *, channels_last: bool = False, kill_at: int | None = None) -> None:
        self.channels_last, self.kill_at = channels_last, kill_at
        self.times: list[tuple[int, float]] = []
        self.losses: list[float] = []

    def start(self, run: Any) -> None:
        if self.channels_last:  # dcgan has no such option: convert the live modules before the first step
            for module in (run.generator, run.discriminator):
                module.to(memory_format=torch.channels_last)

    def step(self, run: Any, step: Any) -> None:
        self.losses += list(step.losses.values())
        if step.phase == "generator":
            synchronize()
            self.times.append((step.step, time.perf_counter()))
            if step.step == self.kill_at:
                raise KeyboardInterrupt("killed by the check")

    def end(self, run: Any) -> None:
        pass

    def steps_per_second(self) -> float:
        (first, t0), (last, t1) = self.times[0], self.times[-1]
        return (last - first) / (t1 - t0) if t1 > t0 else float("nan")


def _train(sizes: Sizes, device: torch.device, hooks: StepClock, checkpoint_dir: Path | None, **options: Any) -> Any:
    from curbench.datasets.base import Dataset

    images = np.random.default_rng(0).integers(0, 256, (512, 3, sizes.image, sizes.image), dtype=np.uint8)
    generator = load_registry().create(
        "generator", "dcgan",
        {"steps": sizes.train_steps, "batch_size": sizes.batch_size, "device": str(device), **options},
    )  # fmt: skip
    return generator.fit(Dataset("gpu-check", images), seed=0, hooks=hooks, checkpoint_dir=checkpoint_dir)


def check_dcgan(record: dict[str, Any], sizes: Sizes, device: torch.device, workdir: Path) -> None:
    runs = {}
    for name, amp, channels_last in (("fp32", False, False), ("amp", True, False), ("channels_last", False, True), ("amp_channels_last", True, True)):
        clock = StepClock(channels_last=channels_last)
        _train(sizes, device, clock, None, amp=amp)
        runs[name] = {"steps_per_second": clock.steps_per_second(), "amp_active": amp and device.type == "cuda"}
        record["checks"][f"{name}_losses_finite"] = bool(clock.losses) and all(math.isfinite(v) for v in clock.losses)
    record["runs"] = runs

    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    every = max(sizes.train_steps // 4, 1)
    whole = _train(sizes, device, StepClock(), workdir / "whole", checkpoint_every=every)
    kill_at = min(2 * every + every // 2, sizes.train_steps - 1)
    with contextlib.suppress(KeyboardInterrupt):
        _train(sizes, device, StepClock(kill_at=kill_at), workdir / "resumed", checkpoint_every=every)
    clock = StepClock()
    resumed = _train(sizes, device, clock, workdir / "resumed", checkpoint_every=every)
    record["resumed_from_step"] = clock.times[0][0] if clock.times else None
    whole.save(workdir / "whole.pt")
    resumed.save(workdir / "resumed.pt")
    difference = _largest_difference(
        torch.load(workdir / "whole.pt", weights_only=True), torch.load(workdir / "resumed.pt", weights_only=True)
    )
    record["resume_largest_weight_difference"] = difference
    record["checks"]["resumed_after_checkpoint"] = record["resumed_from_step"] == 2 * every
    record["checks"]["resume_matches_uninterrupted"] = difference == 0.0


def _largest_difference(a: Any, b: Any) -> float:
    if isinstance(a, torch.Tensor):
        return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
    if isinstance(a, dict):
        return max([_largest_difference(a[k], b[k]) for k in a if isinstance(a[k], (dict, torch.Tensor))] or [0.0])
    return 0.0


# ----------------------------------------------------------------------------- torchrun


def distributed_worker(out: Path, cpu: bool) -> None:
    """Runs inside torchrun: one collective of each kind, results to ``out``."""
    import torch.distributed as dist

    backend = "gloo" if cpu else "nccl"
    if not cpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend=backend)
    device = torch.device("cpu") if cpu else torch.device("cuda", torch.cuda.current_device())
    rank, world = dist.get_rank(), dist.get_world_size()
    value = torch.tensor([float(rank + 1)], device=device)
    dist.all_reduce(value)
    gathered = [torch.zeros(2, device=device) for _ in range(world)]
    dist.all_gather(gathered, torch.tensor([float(rank), 1.0], device=device))
    result = {
        "backend": dist.get_backend(),
        "world_size": world,
        "all_reduce": value.item(),
        "all_gather": [t.tolist() for t in gathered],
    }
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        atomic.write_json(out, result)


def check_torchrun(record: dict[str, Any], cpu: bool, workdir: Path) -> None:
    out = workdir / "torchrun.json"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
        __file__, "--worker-distributed", str(out), *(["--cpu"] if cpu else []),
    ]  # fmt: skip
    done, seconds = timed(lambda: subprocess.run(command, capture_output=True, text=True, timeout=300))
    record["seconds_with_startup"] = seconds
    if done.returncode != 0:
        raise RuntimeError(f"torchrun exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    result = json.loads(out.read_text())
    record.update(result)
    record["checks"]["backend"] = result["backend"] == ("gloo" if cpu else "nccl")
    record["checks"]["all_reduce"] = result["all_reduce"] == 1.0
    record["checks"]["all_gather"] = result["all_gather"] == [[0.0, 1.0]]


# ----------------------------------------------------------------------------- embedders


def _randomise_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial batch-norm statistics, so random-init features are not degenerate."""
    generator = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=generator))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))
    return model


def inception_weights(folder: Path) -> Path:
    """torch-fidelity's FID Inception, random-init, saved as its weight file is (a plain state_dict)."""
    from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

    original = tf_inception.load_state_dict_from_url, tf_inception.FeatureExtractorInceptionV3.load_state_dict
    tf_inception.load_state_dict_from_url = lambda *a, **k: {}  # no download: the init stays random
    tf_inception.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    try:
        net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        tf_inception.load_state_dict_from_url, tf_inception.FeatureExtractorInceptionV3.load_state_dict = original
    path = folder / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(_randomise_norms(net).state_dict(), path)
    return path


class _CLIP(torch.nn.Module):
    """CLIP's parameter layout (image tower at the given size, a minimal text tower), for a TorchScript archive."""

    def __init__(self, resolution: int, patch: int, width: int, layers: int, embed: int) -> None:
        from torch_fidelity import feature_extractor_clip as tf_clip

        super().__init__()
        self.visual = tf_clip.VisionTransformer(resolution, patch, width, layers, max(width // 64, 1), embed)
        text_width = 64
        self.transformer = tf_clip.Transformer(width=text_width, layers=1, heads=1)
        self.token_embedding = torch.nn.Embedding(50, text_width)
        self.positional_embedding = torch.nn.Parameter(torch.randn(8, text_width))
        self.ln_final = tf_clip.LayerNorm(text_width)
        self.text_projection = torch.nn.Parameter(torch.randn(text_width, embed) / text_width**0.5)
        self.logit_scale = torch.nn.Parameter(torch.ones([]))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual(image)


def clip_weights(folder: Path, sizes: Sizes) -> Path:
    """A random-init CLIP ViT as a TorchScript archive, the format of OpenAI's ViT-B-32.pt."""
    torch.manual_seed(0)
    model = _CLIP(*sizes.clip).eval()
    traced = torch.jit.trace(model, torch.randn(1, 3, sizes.clip[0], sizes.clip[0]), check_trace=False)
    path = folder / "ViT-B-32.pt"
    torch.jit.save(traced, str(path))
    return path


def swav_weights(folder: Path) -> Path:
    """A random-init ResNet-50 in the SwAV release's layout: ``module.`` prefix, projection head, prototypes."""
    import torchvision

    torch.manual_seed(0)
    backbone = _randomise_norms(torchvision.models.resnet50(weights=None))
    state = {f"module.{k}": v for k, v in backbone.state_dict().items() if not k.startswith("fc.")}
    head = torch.nn.Sequential(torch.nn.Linear(2048, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    state.update((f"module.projection_head.{k}", v) for k, v in head.state_dict().items())
    state["module.prototypes.weight"] = torch.randn(30, 16)
    path = folder / "swav_800ep_pretrain.pth.tar"
    torch.save(state, path)
    return path


def check_embedders(record: dict[str, Any], sizes: Sizes, device: torch.device, workdir: Path) -> None:
    registry = load_registry()
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (sizes.embed_batch, 3, 32, 32), dtype=np.uint8))
    makers = {"inception": inception_weights, "clip": lambda f: clip_weights(f, sizes), "swav": swav_weights}
    for name, make in makers.items():
        try:
            embedder = registry.create(
                "embedder", name, {"weights": str(make(workdir)), "device": str(device), "batch_size": sizes.embed_batch}
            )
            embedder.embed_batch(images[:1])  # builds the model; warm-up
            features, seconds = timed(lambda: embedder.embed_batch(images))  # noqa: B023
            features = torch.as_tensor(features)
            record[name] = {"images_per_second": len(images) / seconds, "feature_dim": int(features.shape[1])}
            record["checks"][f"{name}_finite"] = features.shape[0] == len(images) and bool(torch.isfinite(features).all())
        except Exception as exc:  # one embedder failing must not hide the others
            record[name] = {"error": f"{type(exc).__name__}: {exc}"}
            record["checks"][f"{name}_finite"] = False


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description="curbench's GPU check: one report of every device path.")
    parser.add_argument("--report", type=Path, help="where to write the JSON report")
    parser.add_argument("--cpu", action="store_true", help="run on CPU (gloo instead of NCCL)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (seconds; for CI)")
    parser.add_argument("--worker-distributed", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_distributed:
        distributed_worker(args.worker_distributed, args.cpu)
        return 0
    if args.report is None:
        parser.error("--report PATH is required")
    if not args.cpu and not torch.cuda.is_available():
        parser.error("no CUDA device: run with --cpu (and --tiny for a quick pass)")
    os.environ.setdefault("CURBENCH_QUIET", "1")
    sizes = TINY if args.tiny else FULL
    device = torch.device("cpu" if args.cpu else "cuda")
    meta = {
        "mode": f"{'cpu' if args.cpu else 'gpu'}{'-tiny' if args.tiny else ''}",
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "sizes": asdict(sizes),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    report = Report(args.report, meta)
    with tempfile.TemporaryDirectory(prefix="curbench-gpu-check-") as tmp:
        workdir = Path(tmp)
        with report.section("metrics") as record:
            check_metrics(record, sizes, device)
        with report.section("prdc_scale") as record:
            check_prdc_scale(record, sizes, device, report.sections["metrics"])
        with report.section("dcgan") as record:
            check_dcgan(record, sizes, device, workdir)
        with report.section("torchrun") as record:
            check_torchrun(record, args.cpu, workdir)
        with report.section("embedders") as record:
            check_embedders(record, sizes, device, workdir)
    report.write()
    print(f"gpu_check: {'passed' if report.passed else 'FAILED'}; report {args.report}", file=sys.stderr)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
