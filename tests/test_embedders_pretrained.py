"""Pretrained-architecture embedders against their reference implementations, with random-init
weight files written in each project's real on-disk format (nothing is downloaded)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torch_fidelity import feature_extractor_clip as tf_clip
from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

from curbench.embedders.clip import CLIPEmbedder
from curbench.embedders.inception import FIDInceptionEmbedder, TorchvisionInceptionEmbedder
from curbench.embedders.swav import SwAVEmbedder
from curbench.errors import InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::FutureWarning")

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, channels, size, size), dtype=np.uint8))


def _randomise_norm_stats(model: nn.Module, seed: int) -> nn.Module:
    """Give batch norms non-trivial statistics so a wrong layer mapping cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return model


def _assert_close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    ours, reference = ours.double().numpy(), reference.double().numpy()
    assert np.abs(reference).max() > 1e-6, "reference features degenerate; the comparison would be vacuous"
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())


# -- FID Inception-v3 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory) -> str:
    """torch-fidelity's own network, random-initialised, saved as its weight file is (a plain state_dict)."""
    patch = pytest.MonkeyPatch()
    # Build their class without its weight download: loading is skipped, the init stays random.
    patch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
    patch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    torch.manual_seed(0)
    net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    patch.undo()
    path = tmp_path_factory.mktemp("fid") / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(_randomise_norm_stats(net, 1).state_dict(), path)
    return str(path)


def test_fid_inception_matches_torch_fidelity(fid_weights):
    reference = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=fid_weights)
    ours = FIDInceptionEmbedder(weights=fid_weights, device="cpu")
    rgb = _images(2, 3, 32)
    assert ours.feature_dim == 2048
    _assert_close(ours.embed_batch(rgb), reference(rgb)[0])
    gray = _images(1, 1, 28, seed=1)  # grayscale: the channel is repeated for the RGB network
    _assert_close(ours.embed_batch(gray), reference(gray.repeat(1, 3, 1, 1))[0])


def test_fid_inception_fingerprint_follows_the_weights_file(fid_weights, tmp_path):
    other = tmp_path / "finetuned.pth"
    state = torch.load(fid_weights, weights_only=True)
    state["Conv2d_1a_3x3.conv.weight"] += 1
    torch.save(state, other)
    assert FIDInceptionEmbedder(weights=fid_weights).fingerprint() == FIDInceptionEmbedder(weights=fid_weights).fingerprint()
    assert FIDInceptionEmbedder(weights=str(other)).fingerprint() != FIDInceptionEmbedder(weights=fid_weights).fingerprint()


# -- CLIP ---------------------------------------------------------------------------------------


class _TinyCLIP(nn.Module):
    """A full CLIP model (image and text towers, OpenAI's parameter names) at a tiny size."""

    def __init__(self) -> None:
        super().__init__()
        width, embed = 64, 32
        self.visual = tf_clip.VisionTransformer(input_resolution=64, patch_size=32, width=width, layers=2, heads=1, output_dim=embed)
        self.transformer = tf_clip.Transformer(width=width, layers=1, heads=1)
        self.token_embedding = nn.Embedding(50, width)
        self.positional_embedding = nn.Parameter(torch.randn(8, width))
        self.ln_final = tf_clip.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed) / width**0.5)
        self.logit_scale = nn.Parameter(torch.ones([]))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual(image)


@pytest.fixture(scope="module")
def clip_weights(tmp_path_factory) -> str:
    """A TorchScript archive, the format of OpenAI's ViT-B-32.pt."""
    torch.manual_seed(0)
    traced = torch.jit.trace(_TinyCLIP().eval(), torch.randn(1, 3, 64, 64))
    path = tmp_path_factory.mktemp("clip") / "ViT-B-32.pt"
    torch.jit.save(traced, str(path))
    return str(path)


def test_clip_matches_torch_fidelity(clip_weights):
    reference = tf_clip.FeatureExtractorCLIP("clip-vit-b-32", ["clip"], feature_extractor_weights_path=clip_weights)
    ours = CLIPEmbedder(weights=clip_weights, device="cpu")
    assert ours.feature_dim == 32
    rgb = _images(3, 3, 40)
    _assert_close(ours.embed_batch(rgb), reference(rgb)[0])
    gray = _images(2, 1, 28, seed=2)
    _assert_close(ours.embed_batch(gray), reference(gray.repeat(1, 3, 1, 1))[0])


# -- SwAV ResNet-50 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swav_backbone() -> nn.Module:
    torch.manual_seed(0)
    model = _randomise_norm_stats(torchvision.models.resnet50(weights=None), 2)
    model.fc = nn.Identity()
    return model.eval()


def _swav_checkpoint(backbone: nn.Module, extra: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The SwAV release's layout: DDP ``module.`` prefix, projection head and prototypes included."""
    head = nn.Sequential(nn.Linear(2048, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 16))
    state = OrderedDict((f"module.{k}", v) for k, v in backbone.state_dict().items())
    state.update((f"module.projection_head.{k}", v) for k, v in head.state_dict().items())
    state["module.prototypes.weight"] = torch.randn(30, 16)
    state.update(extra or {})
    return state


def _reference_resnet(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    x = torchvision.transforms.functional.resize(images.float(), [224, 224], antialias=False)
    with torch.no_grad():
        return backbone((x / 255 - IMAGENET_MEAN) / IMAGENET_STD)


@pytest.mark.parametrize("wrapped", [True, False], ids=["training-checkpoint", "released-flat"])
def test_swav_matches_torchvision_resnet50(swav_backbone, tmp_path, wrapped):
    state = _swav_checkpoint(swav_backbone)
    path = tmp_path / "swav_800ep_pretrain.pth.tar"
    torch.save({"state_dict": state} if wrapped else state, path)
    ours = SwAVEmbedder(weights=str(path), device="cpu")
    native = _images(1, 3, 224)  # already 224: must pass through unresized
    _assert_close(ours.embed_batch(native), _reference_resnet(swav_backbone, native))
    small = _images(1, 1, 32, seed=3)
    _assert_close(ours.embed_batch(small), _reference_resnet(swav_backbone, small.repeat(1, 3, 1, 1)))


def test_swav_checkpoint_with_unexpected_keys_fails_clearly(swav_backbone, tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"state_dict": _swav_checkpoint(swav_backbone, {"module.extra_head.weight": torch.zeros(3)})}, path)
    with pytest.raises(InvalidInputError, match=r"unexpected keys \['extra_head.weight'\]") as info:
        SwAVEmbedder(weights=str(path)).embed_batch(_images(1, 3, 32))
    assert "\n" not in str(info.value)


def test_swav_checkpoint_missing_backbone_keys_fails_clearly(swav_backbone, tmp_path):
    state = _swav_checkpoint(swav_backbone)
    del state["module.layer4.2.conv3.weight"]
    path = tmp_path / "truncated.pth"
    torch.save(state, path)
    with pytest.raises(InvalidInputError, match=r"missing keys \['layer4.2.conv3.weight'\]"):
        SwAVEmbedder(weights=str(path)).embed_batch(_images(1, 3, 32))


# -- torchvision Inception-v3 ------------------------------------------------------------------


def test_torchvision_inception_matches_torchvision(tmp_path):
    torch.manual_seed(0)
    model = torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    path = tmp_path / "inception_v3_google-0cc3c7bd.pth"
    torch.save(_randomise_norm_stats(model, 4).state_dict(), path)
    model.fc = nn.Identity()
    images = _images(2, 3, 48)
    x = torchvision.transforms.functional.resize(images.float(), [299, 299], antialias=False)
    with torch.no_grad():
        reference = model.eval()((x / 255 - IMAGENET_MEAN) / IMAGENET_STD)
    _assert_close(TorchvisionInceptionEmbedder(weights=str(path), device="cpu").embed_batch(images), reference)
