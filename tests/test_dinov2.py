"""DINOv2 against dgm-eval's preprocessing and the reference ViT, with random-init checkpoints in the official
``dinov2_*_pretrain.pth`` layout (nothing is downloaded).

Most tests use a small network of the same family (``architecture`` overrides timm's sizes) so a forward pass
costs milliseconds; the ViT-L/14 configuration itself is checked on the meta device (no memory), and once
numerically (marked slow: a 1.2 GB random checkpoint).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys

import numpy as np
import pytest
import timm
import torch
import torchvision.transforms as TF
from PIL import Image

from curbench.embedders import weights
from curbench.embedders.dinov2 import DINOV2_VITL14, DINOv2Embedder, build_vit, dgm_eval_preprocess
from curbench.embedders.weights import WeightSpec
from curbench.errors import InvalidInputError, MissingWeightsError

GRID = 37  # the release's 518-pixel position grid
TINY = {"embed_dim": 48, "depth": 2, "num_heads": 3}


class TinyDINOv2(DINOv2Embedder):
    architecture = TINY


@pytest.fixture(autouse=True)
def no_user_weights(tmp_path, monkeypatch):
    """Keep the developer's real weight folders (and the network) out of the lookup."""
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def official_checkpoint(embed_dim: int, depth: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the names and shapes of facebookresearch/dinov2's backbone release (its hub model's
    state_dict: ``block_chunks=0``, MLP FFN, LayerScale, ``mask_token``, 518-pixel ``pos_embed``), with every
    norm, bias and LayerScale away from its init so that no mis-mapped tensor can go unnoticed."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int, std: float, mean: float = 0.0) -> torch.Tensor:
        return mean + std * torch.randn(shape, generator=g)

    d, hidden = embed_dim, 4 * embed_dim
    state = {
        "cls_token": rand(1, 1, d, std=1.0),
        "pos_embed": rand(1, 1 + GRID * GRID, d, std=0.5),
        "mask_token": rand(1, d, std=1.0),
        "patch_embed.proj.weight": rand(d, 3, 14, 14, std=0.03),
        "patch_embed.proj.bias": rand(d, std=0.1),
    }
    for i in range(depth):
        b = f"blocks.{i}."
        state |= {
            b + "norm1.weight": rand(d, std=0.2, mean=1.0), b + "norm1.bias": rand(d, std=0.1),
            b + "attn.qkv.weight": rand(3 * d, d, std=d**-0.5), b + "attn.qkv.bias": rand(3 * d, std=0.1),
            b + "attn.proj.weight": rand(d, d, std=d**-0.5), b + "attn.proj.bias": rand(d, std=0.1),
            b + "ls1.gamma": rand(d, std=0.3, mean=0.5),
            b + "norm2.weight": rand(d, std=0.2, mean=1.0), b + "norm2.bias": rand(d, std=0.1),
            b + "mlp.fc1.weight": rand(hidden, d, std=d**-0.5), b + "mlp.fc1.bias": rand(hidden, std=0.1),
            b + "mlp.fc2.weight": rand(d, hidden, std=hidden**-0.5), b + "mlp.fc2.bias": rand(d, std=0.1),
            b + "ls2.gamma": rand(d, std=0.3, mean=0.5),
        }  # fmt: skip
    state |= {"norm.weight": rand(d, std=0.2, mean=1.0), "norm.bias": rand(d, std=0.1)}
    return state


def dgm_eval_batch(images: np.ndarray) -> torch.Tensor:
    """dgm-eval's DINOv2 input, step by step as its loaders and ``DINOv2Encoder.transform`` do it: a PIL image
    converted to RGB, ``Resize((224, 224), BICUBIC)``, ``ToTensor()``, ``Normalize`` with ImageNet mean/std."""
    transform = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor()])
    normalize = TF.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))
    pictures = [Image.fromarray(image.transpose(1, 2, 0).squeeze(-1) if image.shape[0] == 1 else image.transpose(1, 2, 0))
                for image in images]  # fmt: skip
    return torch.stack([normalize(transform(picture.convert("RGB"))) for picture in pictures])


def timm_reference(state: dict[str, torch.Tensor], architecture: dict[str, int]) -> torch.nn.Module:
    """timm's own ViT with the checkpoint's weights, its position grid interpolated to 16 x 16 as the official
    model interpolates it for a 224 input (bicubic, scale factor (16 + 0.1) / 37, no antialiasing)."""
    model = timm.create_model("vit_large_patch14_dinov2", pretrained=False, num_classes=0, img_size=224, **architecture)
    loaded = {k: v for k, v in state.items() if k != "mask_token"}
    patches = state["pos_embed"][:, 1:].reshape(1, GRID, GRID, -1).permute(0, 3, 1, 2)
    patches = torch.nn.functional.interpolate(
        patches, scale_factor=(16.1 / GRID, 16.1 / GRID), mode="bicubic", antialias=False
    )
    loaded["pos_embed"] = torch.cat([state["pos_embed"][:, :1], patches.flatten(2).transpose(1, 2)], dim=1)
    model.load_state_dict(loaded, strict=True)
    return model.eval()


def _images(n: int, channels: int, height: int, width: int | None = None, seed: int = 0) -> np.ndarray:
    shape = (n, channels, height, width or height)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _assert_close(ours: np.ndarray | torch.Tensor, reference: torch.Tensor) -> None:
    ours, reference = np.asarray(ours, dtype=np.float64), reference.double().numpy()
    assert np.abs(reference).max() > 1e-3, "reference features degenerate; the comparison would be vacuous"
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> tuple[str, dict[str, torch.Tensor]]:
    state = official_checkpoint(TINY["embed_dim"], TINY["depth"], seed=1)
    path = tmp_path_factory.mktemp("dinov2") / "dinov2_vitl14_pretrain.pth"
    torch.save(state, path)
    return str(path), state


# -- preprocessing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "height", "width"),
    [(3, 32, 32), (1, 28, 28), (3, 224, 224), (3, 256, 256), (3, 40, 60), (3, 300, 250), (3, 250, 300)],
    ids=["cifar", "gray", "native", "down", "up-wide", "down-tall", "down-wide"],
)
def test_preprocessing_is_dgm_evals_bit_for_bit(channels, height, width):
    images = _images(2, channels, height, width, seed=height)
    ours = dgm_eval_preprocess(torch.from_numpy(images).expand(-1, 3, -1, -1).float())
    assert ours.dtype == torch.float32 and ours.shape == (2, 3, 224, 224)
    assert torch.equal(ours, dgm_eval_batch(images))


# -- features against the reference ViT -----------------------------------------------------------


def test_features_match_timm_with_dgm_eval_preprocessing(tiny_weights):
    path, state = tiny_weights
    ours = TinyDINOv2(weights=path, device="cpu")
    assert ours.feature_dim == TINY["embed_dim"]
    reference = timm_reference(state, TINY)
    for images in (_images(3, 3, 32), _images(2, 1, 28, seed=1), _images(1, 3, 224, seed=2), _images(1, 3, 70, 90, seed=3)):
        with torch.no_grad():
            expected = reference(dgm_eval_batch(images))
        _assert_close(ours.embed(images), expected)


def test_a_checkpoint_at_the_input_grid_is_used_as_is(tiny_weights, tmp_path):
    _, state = tiny_weights
    state = dict(state, pos_embed=torch.randn(1, 1 + 16 * 16, TINY["embed_dim"]))
    path = tmp_path / "at224.pth"
    torch.save(state, path)
    model = TinyDINOv2(weights=str(path), device="cpu").model
    assert torch.equal(model.pos_embed.detach(), state["pos_embed"])


def _dinov2_source() -> pathlib.Path | None:
    """A checkout of facebookresearch/dinov2: $CURBENCH_DINOV2_SOURCE, or the one torch.hub.load keeps."""
    for candidate in (os.environ.get("CURBENCH_DINOV2_SOURCE"), pathlib.Path(torch.hub.get_dir()) / "facebookresearch_dinov2_main"):
        if candidate and (pathlib.Path(candidate) / "hubconf.py").is_file():
            return pathlib.Path(candidate)
    return None


@pytest.mark.skipif(_dinov2_source() is None, reason="no facebookresearch/dinov2 checkout (set CURBENCH_DINOV2_SOURCE)")
@pytest.mark.filterwarnings("ignore:xFormers:UserWarning")
def test_features_match_the_official_hub_model(tmp_path, monkeypatch):
    """The official architecture as dgm-eval loads it (torch.hub ``dinov2_vits14``, the same builder and defaults
    as ``dinov2_vitl14``), its own random state_dict saved as the release is, against our embedder at ViT-S size."""
    source = _dinov2_source()
    monkeypatch.setenv("XFORMERS_DISABLED", "1")
    monkeypatch.setattr(sys, "path", [str(source), *sys.path])
    torch.manual_seed(0)
    official = torch.hub.load(str(source), "dinov2_vits14", source="local", pretrained=False).eval()
    with torch.no_grad():  # move every tensor off its init (LayerNorm 1/0, LayerScale 1, zero biases)
        for parameter in official.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(official.state_dict(), path)

    class SmallDINOv2(DINOv2Embedder):
        architecture = {"embed_dim": 384, "depth": 12, "num_heads": 6}

    ours = SmallDINOv2(weights=str(path), device="cpu")
    for images in (_images(2, 3, 32, seed=4), _images(1, 1, 64, seed=5)):
        with torch.no_grad():
            expected = official(dgm_eval_batch(images))
        _assert_close(ours.embed(images), expected)


def test_vit_l14_configuration(tmp_path):
    """The default network is timm's vit_large_patch14_dinov2 at 224 and takes the release's ViT-L/14 tensors."""
    (tmp_path / "w.pth").write_bytes(b"")
    assert DINOv2Embedder(weights=str(tmp_path / "w.pth")).feature_dim == 1024  # known before any weights load
    with torch.device("meta"):
        ours = build_vit()
        timm_own = timm.create_model("vit_large_patch14_dinov2", pretrained=False, num_classes=0, img_size=224)
    shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in timm_own.state_dict().items()}
    release = {k: tuple(v.shape) for k, v in official_checkpoint(8, 24).items()}  # names only; shapes scaled below
    expected = {k for k in release if k != "mask_token"}
    assert set(shapes) == expected and shapes["pos_embed"] == (1, 257, 1024) and shapes["blocks.23.mlp.fc1.weight"] == (4096, 1024)
    block = ours.blocks[0]
    assert (block.attn.num_heads, ours.patch_embed.patch_size, block.norm1.eps, ours.global_pool) == (16, (14, 14), 1e-6, "token")


@pytest.mark.slow
def test_vit_l14_features_match_timm(tmp_path):
    """The real size once: a random 1.2 GB ViT-L/14 checkpoint in the release's layout, one image."""
    state = official_checkpoint(1024, 24, seed=2)
    path = tmp_path / "dinov2_vitl14_pretrain.pth"
    torch.save(state, path)
    images = _images(1, 3, 32, seed=6)
    with torch.no_grad():
        expected = timm_reference(state, {})(dgm_eval_batch(images))
    del state
    ours = DINOv2Embedder(weights=str(path), device="cpu")
    assert ours.feature_dim == 1024
    _assert_close(ours.embed(images), expected)


# -- weights: lookup, checksums, strict loading ---------------------------------------------------


def test_missing_weights_offline_is_one_line_naming_file_url_and_folder(isolated_cache):
    with pytest.raises(MissingWeightsError) as info:
        DINOv2Embedder()
    message = str(info.value)
    assert "\n" not in message
    for part in (DINOV2_VITL14.filename, DINOV2_VITL14.url, str(isolated_cache / "weights"), "--weights PATH"):
        assert part in message


def test_release_url_is_the_official_one():
    assert DINOV2_VITL14.url == "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth"
    assert DINOV2_VITL14.url.endswith("/" + DINOV2_VITL14.filename)


def test_a_file_in_the_weights_folder_with_the_wrong_checksum_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / DINOV2_VITL14.filename).write_bytes(b"truncated download")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(folder))
    pinned = hashlib.sha256(b"the real release").hexdigest()
    monkeypatch.setattr(TinyDINOv2, "weight_spec", WeightSpec(DINOV2_VITL14.filename, DINOV2_VITL14.url, pinned))
    with pytest.raises(MissingWeightsError) as info:
        TinyDINOv2()
    message = str(info.value)
    assert "\n" not in message
    for part in (str(folder / DINOV2_VITL14.filename), pinned, hashlib.sha256(b"truncated download").hexdigest(), "delete it"):
        assert part in message


def test_a_download_with_the_wrong_checksum_fails_and_leaves_nothing(tiny_weights, monkeypatch, isolated_cache):
    path, _ = tiny_weights
    monkeypatch.delenv(weights.OFFLINE_ENV)
    spec = WeightSpec(DINOV2_VITL14.filename, pathlib.Path(path).as_uri(), "0" * 64)
    monkeypatch.setattr(TinyDINOv2, "weight_spec", spec)
    with pytest.raises(MissingWeightsError, match="sha256.*corrupt"):
        TinyDINOv2()
    assert not any((isolated_cache / "weights").glob("dinov2*"))
    right = WeightSpec(DINOV2_VITL14.filename, spec.url, hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest())
    monkeypatch.setattr(TinyDINOv2, "weight_spec", right)
    assert TinyDINOv2().weights_path == isolated_cache / "weights" / DINOV2_VITL14.filename


def _broken(state: dict[str, torch.Tensor], tmp_path: pathlib.Path, **changes: torch.Tensor | None) -> str:
    state = dict(state)
    for key, value in changes.items():
        if value is None:
            del state[key.replace("__", ".")]
        else:
            state[key.replace("__", ".")] = value
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    return str(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"blocks__1__ls2__gamma": None}, r"missing keys \['blocks.1.ls2.gamma'\]"),
        ({"register_tokens": torch.zeros(1, 4, 48)}, r"unexpected keys \['register_tokens'\]"),  # a *_reg4 release
        ({"head__weight": torch.zeros(10, 48)}, r"unexpected keys \['head.weight'\]"),
        ({"norm__weight": torch.zeros(32)}, r"size mismatch for norm.weight"),
        ({"pos_embed": torch.zeros(1, 1 + 37 * 36, 48)}, "not a square grid"),
    ],
    ids=["missing", "registers", "classifier-head", "shape", "pos-grid"],
)
def test_a_checkpoint_that_does_not_fit_fails_in_one_line(tiny_weights, tmp_path, changes, message):
    path = _broken(tiny_weights[1], tmp_path, **changes)
    with pytest.raises(InvalidInputError, match=message) as info:
        TinyDINOv2(weights=path).embed(_images(1, 3, 16))
    assert "\n" not in str(info.value)


def test_an_unsafe_pickle_is_never_loaded(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"cls_token": torch.zeros(1), "payload": pathlib.Path("x")}, path)  # a pickled class, not a tensor
    with pytest.raises(InvalidInputError, match="safely"):
        TinyDINOv2(weights=str(path)).embed(_images(1, 3, 16))


def test_fingerprint_follows_the_file_and_the_preprocessing(tiny_weights, tmp_path):
    path, state = tiny_weights
    other = _broken(state, tmp_path, cls_token=state["cls_token"] + 1)
    assert TinyDINOv2(weights=path).fingerprint() == TinyDINOv2(weights=path).fingerprint()
    assert TinyDINOv2(weights=other).fingerprint() != TinyDINOv2(weights=path).fingerprint()
    assert DINOv2Embedder(weights=path).fingerprint() != TinyDINOv2(weights=path).fingerprint()


def test_registered_as_a_builtin():
    from curbench.plugins import load_registry

    record = load_registry().get("embedder", "dinov2")
    assert record.load() is DINOv2Embedder
