"""Pipeline overhead of embed_dataset over the bare network forward (spec target: at most 20%).

Run: .venv/bin/pytest benchmarks/test_bench_embedding.py --benchmark-only -s
Uses a random-initialised ResNet-50 (SwAV embedder, 224 x 224) on a few dozen small images.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from curbench.datasets.base import Dataset
from curbench.embedders.base import imagenet_normalize, resize_bilinear
from curbench.embedders.features import embed_dataset
from curbench.embedders.swav import SwAVEmbedder

N_IMAGES = 24
BATCH = 12
MAX_OVERHEAD = 0.20


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    model.fc = nn.Identity()
    path = tmp_path_factory.mktemp("w") / "swav.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    images = np.random.default_rng(0).integers(0, 256, (N_IMAGES, 3, 32, 32), dtype=np.uint8)
    return model.eval(), str(path), Dataset("bench", images)


def _bare_forward(model: nn.Module, images: np.ndarray) -> float:
    """The network alone on inputs already resized and normalised (preprocessing excluded)."""
    batches = [imagenet_normalize(resize_bilinear(torch.from_numpy(images[i : i + BATCH]).float(), 224)) for i in range(0, len(images), BATCH)]
    start = time.perf_counter()
    with torch.inference_mode():
        for x in batches:
            model(x)
    return time.perf_counter() - start


def test_embed_dataset_overhead(benchmark, setup):
    model, weights, dataset = setup
    embedder = SwAVEmbedder(weights=weights, batch_size=BATCH, device="cpu")
    embed_dataset(embedder, dataset, cache=False)  # warm-up: weights loaded, allocator primed
    _bare_forward(model, dataset.data)

    bare = min(_bare_forward(model, dataset.data) for _ in range(3))
    benchmark.pedantic(embed_dataset, args=(embedder, dataset), kwargs={"cache": False}, rounds=3, iterations=1)
    pipeline = benchmark.stats.stats.min
    overhead = pipeline / bare - 1
    benchmark.extra_info.update(
        bare_s=bare, pipeline_s=pipeline, overhead=overhead,
        bare_img_per_s=N_IMAGES / bare, pipeline_img_per_s=N_IMAGES / pipeline,
    )  # fmt: skip
    print(f"\nbare forward {N_IMAGES / bare:.1f} img/s, embed_dataset {N_IMAGES / pipeline:.1f} img/s, overhead {overhead:+.1%}")
    assert overhead <= MAX_OVERHEAD
