"""CLIP ViT-B/32 image features, computed as torch-fidelity's ``clip-vit-b-32`` computes them."""

from __future__ import annotations

from typing import cast

import torch
import torchvision
from torch import nn
from torch_fidelity.feature_extractor_clip import build_model as build_clip_visual
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from curbench.embedders.base import PretrainedEmbedder
from curbench.embedders.weights import CLIP_VIT_B_32, load_state_dict, load_torchscript
from curbench.errors import InvalidInputError

# OpenAI CLIP's normalisation constants, on the 0..255 scale as torch-fidelity applies them.
CLIP_MEAN = tuple(255 * m for m in (0.48145466, 0.4578275, 0.40821073))
CLIP_STD = tuple(255 * s for s in (0.26862954, 0.26130258, 0.27577711))


class CLIPEmbedder(PretrainedEmbedder):
    """The image tower of OpenAI's CLIP ViT-B/32 (512-d projected features).

    Weights are OpenAI's TorchScript archive (loaded as TorchScript, never
    unpickled) or a plain state_dict of the full CLIP model. The visual tower is
    built by torch-fidelity's ``build_model``, which also rounds the weights
    through fp16 exactly as OpenAI's release does, so the features agree with
    torch-fidelity's. Resize is TF1-compatible bilinear to the model's input size.
    """

    name = "clip"
    weight_spec = CLIP_VIT_B_32
    use_amp = False  # torch-fidelity computes CLIP features in fp32

    @property
    def feature_dim(self) -> int:
        """The projection width (512 for ViT-B/32); builds the model, loading the weights, on first call."""
        return cast(int, self.model.output_dim)  # an int attribute of torch-fidelity's ViT

    def preprocessing(self) -> dict[str, object]:
        """TF1 bilinear resize to the model's input size, CLIP normalisation, projected visual features."""
        return {"resize": "tf1-bilinear-input", "normalize": "clip", "layer": "visual-proj"}

    def build_model(self) -> nn.Module:
        """The fp32 visual tower, built by torch-fidelity from a full CLIP checkpoint; any other file is refused."""
        state = self._state_dict()
        if "visual.proj" not in state or "text_projection" not in state:
            raise InvalidInputError(
                f"weights {self.weights_path} are not a CLIP ViT checkpoint (no visual.proj/text_projection); "
                "pass OpenAI's ViT-B-32.pt"
            )
        try:
            return cast(nn.Module, build_clip_visual(dict(state), torch.float32).visual)
        except RuntimeError as exc:
            raise InvalidInputError(f"weights {self.weights_path} do not fit CLIP: {str(exc).splitlines()[0]}") from None

    def _state_dict(self) -> dict[str, torch.Tensor]:
        try:
            return dict(load_torchscript(self.weights_path).state_dict())
        except InvalidInputError:
            return load_state_dict(self.weights_path)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """TF1-compatible bilinear resize to the model's input size, then CLIP's mean/std on the 0..255 scale."""
        size = self.model.input_resolution
        x = interpolate_bilinear_2d_like_tensorflow1x(images, size=(size, size), align_corners=False)
        return cast(torch.Tensor, torchvision.transforms.functional.normalize(x, CLIP_MEAN, CLIP_STD))
