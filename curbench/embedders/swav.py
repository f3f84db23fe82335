"""ResNet-50 with the SwAV 800-epoch self-supervised checkpoint (facebookresearch/swav)."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from curbench.embedders.base import PretrainedEmbedder, imagenet_normalize, resize_bilinear
from curbench.embedders.weights import SWAV_800EP, load_state_dict, load_strict

SWAV_INPUT_SIZE = 224
# SwAV's training heads: not part of the backbone, dropped by name (never by a silent strict=False).
SWAV_HEAD_PREFIXES = ("projection_head.", "prototypes.")
_DDP_PREFIX = "module."


def swav_backbone_state(checkpoint: dict[str, object]) -> dict[str, torch.Tensor]:
    """The ResNet-50 backbone weights of a SwAV checkpoint.

    Accepts the released file (a flat ``module.``-prefixed state_dict) and a
    training checkpoint (``{"state_dict": {...}}``).
    """
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict):
        return {}
    state = {k.removeprefix(_DDP_PREFIX): v for k, v in state.items()}
    return {k: v for k, v in state.items() if not k.startswith(SWAV_HEAD_PREFIXES)}


class SwAVEmbedder(PretrainedEmbedder):
    """2048-d globally pooled ResNet-50 features; bilinear resize to 224, ImageNet normalisation."""

    name = "swav"
    weight_spec = SWAV_800EP

    @property
    def feature_dim(self) -> int:
        """2048: the globally pooled ResNet-50 features."""
        return 2048

    def preprocessing(self) -> dict[str, object]:
        """Bilinear resize to 224, ImageNet normalisation, average-pool layer."""
        return {"resize": "bilinear-224", "normalize": "imagenet", "layer": "avgpool-2048"}

    def build_model(self) -> nn.Module:
        """torchvision's ResNet-50 without ``fc``, loaded strictly with the checkpoint's backbone (heads dropped)."""
        model = torchvision.models.resnet50(weights=None)
        model.fc = nn.Identity()
        state = swav_backbone_state(load_state_dict(self.weights_path))
        return load_strict(model, state, self.weights_path, "a SwAV ResNet-50 backbone")

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Bilinear resize to 224 x 224, then ImageNet normalisation."""
        return imagenet_normalize(resize_bilinear(images, SWAV_INPUT_SIZE))
