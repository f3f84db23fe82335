"""Inception-v3 embedders: the FID network (torch-fidelity's) and torchvision's ImageNet model."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import nn
from torch_fidelity import feature_extractor_inceptionv3 as tf_inception
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from curbench.embedders.base import PretrainedEmbedder, imagenet_normalize, resize_bilinear
from curbench.embedders.weights import FID_INCEPTION, TORCHVISION_INCEPTION, load_state_dict, load_strict

FID_INPUT_SIZE = 299
TORCHVISION_INPUT_SIZE = 299
# torch-fidelity's weight file also holds the 1008-way logits layer; pool features do not use it.
_FID_UNUSED_PREFIXES = ("fc.",)


def _fid_inception_trunk() -> nn.Sequential:
    """torch-fidelity's FID Inception-v3 up to the 2048-d average pool, with its layer names.

    Built from torch-fidelity's own blocks so the arithmetic is theirs; the names
    match their weight file so it loads strictly.
    """
    t = tf_inception
    layers = OrderedDict(
        Conv2d_1a_3x3=t.BasicConv2d(3, 32, kernel_size=3, stride=2),
        Conv2d_2a_3x3=t.BasicConv2d(32, 32, kernel_size=3),
        Conv2d_2b_3x3=t.BasicConv2d(32, 64, kernel_size=3, padding=1),
        MaxPool_1=nn.MaxPool2d(kernel_size=3, stride=2),
        Conv2d_3b_1x1=t.BasicConv2d(64, 80, kernel_size=1),
        Conv2d_4a_3x3=t.BasicConv2d(80, 192, kernel_size=3),
        MaxPool_2=nn.MaxPool2d(kernel_size=3, stride=2),
        Mixed_5b=t.InceptionA(192, pool_features=32),
        Mixed_5c=t.InceptionA(256, pool_features=64),
        Mixed_5d=t.InceptionA(288, pool_features=64),
        Mixed_6a=t.InceptionB(288),
        Mixed_6b=t.InceptionC(768, channels_7x7=128),
        Mixed_6c=t.InceptionC(768, channels_7x7=160),
        Mixed_6d=t.InceptionC(768, channels_7x7=160),
        Mixed_6e=t.InceptionC(768, channels_7x7=192),
        Mixed_7a=t.InceptionD(768),
        Mixed_7b=t.InceptionE_1(1280),
        Mixed_7c=t.InceptionE_2(2048),
        AvgPool=nn.AdaptiveAvgPool2d(output_size=(1, 1)),
        Flatten=nn.Flatten(),
    )
    return nn.Sequential(layers)


class FIDInceptionEmbedder(PretrainedEmbedder):
    """FID Inception-v3 (TF 2015-12-05 weights in torch-fidelity's format), 2048-d pool features.

    Preprocessing is torch-fidelity's ``inception-v3-compat``: uint8 input,
    TF1-compatible bilinear resize to 299, then (x - 128) / 128, all in fp32.
    """

    name = "inception"
    weight_spec = FID_INCEPTION
    use_amp = False  # FID numbers must match torch-fidelity, which runs in fp32

    @property
    def feature_dim(self) -> int:
        """2048: the pool3 features."""
        return 2048

    def preprocessing(self) -> dict[str, object]:
        """torch-fidelity's ``inception-v3-compat``: TF1 bilinear resize to 299, (x - 128) / 128, pool3."""
        return {"resize": "tf1-bilinear-299", "normalize": "(x-128)/128", "layer": "pool3-2048"}

    def build_model(self) -> nn.Module:
        """The FID trunk up to the 2048-d pool, loaded strictly (the file's unused logits layer dropped)."""
        state = load_state_dict(self.weights_path)
        state = {k: v for k, v in state.items() if not k.startswith(_FID_UNUSED_PREFIXES)}
        return load_strict(_fid_inception_trunk(), state, self.weights_path, "the FID Inception-v3")

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """TF1-compatible bilinear resize to 299 x 299, then (x - 128) / 128."""
        x: torch.Tensor = interpolate_bilinear_2d_like_tensorflow1x(
            images, size=(FID_INPUT_SIZE, FID_INPUT_SIZE), align_corners=False
        )
        return (x - 128) / 128


class TorchvisionInceptionEmbedder(PretrainedEmbedder):
    """torchvision's ImageNet Inception-v3 (the paper's selection embedder), 2048-d pool features.

    As torchvision does for its pretrained weights, ``transform_input`` is on:
    ImageNet-normalised inputs are mapped to the range the Google weights expect.
    """

    name = "inception-torchvision"
    weight_spec = TORCHVISION_INCEPTION

    @property
    def feature_dim(self) -> int:
        """2048: the average-pool features."""
        return 2048

    def preprocessing(self) -> dict[str, object]:
        """Bilinear resize to 299, ImageNet normalisation, ``transform_input`` on, average-pool layer."""
        return {"resize": "bilinear-299", "normalize": "imagenet", "transform_input": True, "layer": "avgpool-2048"}

    def build_model(self) -> nn.Module:
        """torchvision's Inception-v3, loaded strictly, ``fc`` replaced by the identity: 2048-d pool features."""
        model: nn.Module = torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
        load_strict(model, load_state_dict(self.weights_path), self.weights_path, "torchvision's Inception-v3")
        model.fc = nn.Identity()
        return model

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Bilinear resize to 299 x 299, then ImageNet normalisation."""
        return imagenet_normalize(resize_bilinear(images, TORCHVISION_INPUT_SIZE))
