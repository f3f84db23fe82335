"""DINOv2 ViT-L/14 features, computed as dgm-eval (Stein et al. 2023) computes them.

dgm-eval's ``DINOv2Encoder`` runs the official torch.hub ``dinov2_vitl14`` model on
images prepared by torchvision: ``Image.fromarray(...).convert("RGB")``,
``Resize((224, 224), BICUBIC)`` of the PIL image, ``ToTensor`` and ``Normalize`` with
the ImageNet mean and std. The feature is the model's output, the CLS token of the final
layer norm (1024-d).

Here the network is timm's ``vit_large_patch14_dinov2`` (the same architecture, with the
same parameter names), built for 224 x 224 inputs, and the official checkpoint
(``dinov2_vitl14_pretrain.pth``) is mapped onto it explicitly and loaded strictly:

* ``mask_token`` (iBOT's embedding of masked patches, used only in training) is dropped by name;
* ``pos_embed`` (37 x 37 patches, for 518-pixel inputs) is resampled to 16 x 16 exactly as the
  official model does it at every forward pass on a 224 input: bicubic, no antialiasing, with
  the scale factor (16 + 0.1) / 37 of its ``interpolate_offset``. timm's own conversion resizes
  by output size with antialiasing, which gives different position embeddings;
* every other tensor keeps its name (listed in :func:`official_to_timm_names`).

The resize is Pillow's own (:func:`pil_resize`), on the 8-bit images, as dgm-eval's is: Pillow's
bicubic resampling rounds to 8 bits after each of its two passes, and Pillow 13 orders the passes
differently from Pillow 12 for some non-square shapes, so the embedder calls Pillow rather than
reimplementing it.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from curbench.embedders.base import IMAGENET_MEAN, IMAGENET_STD, PretrainedEmbedder
from curbench.embedders.weights import WeightSpec, load_state_dict, load_strict
from curbench.errors import InvalidInputError

# The official release (facebookresearch/dinov2's hub URL). Upstream publishes no checksum and none could be
# established without downloading the file (1.2 GB), so it is unpinned, like SwAV's: strict key and shape
# loading is the check.
DINOV2_VITL14 = WeightSpec(
    "dinov2_vitl14_pretrain.pth",
    "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
    None,
)

INPUT_SIZE = 224
PATCH_SIZE = 14
TIMM_ARCHITECTURE = "vit_large_patch14_dinov2"
# The official hub model's position-embedding interpolation (interpolate_offset=0.1, interpolate_antialias=False).
POS_EMBED_OFFSET = 0.1

# Official checkpoint names -> timm names. They coincide, but the table is what the mapping loads: any other key is
# reported as unexpected by the strict load, any absent one as missing.
_TOP_LEVEL = ("cls_token", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias")
_PER_BLOCK = (
    "norm1.weight", "norm1.bias",
    "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
    "ls1.gamma",
    "norm2.weight", "norm2.bias",
    "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
    "ls2.gamma",
)  # fmt: skip
_TRAINING_ONLY = ("mask_token",)


def official_to_timm_names(depth: int) -> dict[str, str]:
    """The official checkpoint's tensor names (besides ``pos_embed`` and ``mask_token``) -> timm's names."""
    names = {key: key for key in _TOP_LEVEL}
    for block in range(depth):
        names.update((f"blocks.{block}.{key}", f"blocks.{block}.{key}") for key in _PER_BLOCK)
    return names


def resample_pos_embed(pos_embed: torch.Tensor, grid: int, where: object = "checkpoint") -> torch.Tensor:
    """(1, 1 + M*M, D) position embeddings -> (1, 1 + grid*grid, D), as the official DINOv2 model interpolates them."""
    if pos_embed.ndim != 3 or pos_embed.shape[0] != 1:
        raise InvalidInputError(f"weights {where}: pos_embed has shape {tuple(pos_embed.shape)}, not (1, tokens, dim)")
    patches = pos_embed.shape[1] - 1
    side = math.isqrt(max(patches, 0))
    if patches < 1 or side * side != patches:
        raise InvalidInputError(
            f"weights {where}: pos_embed holds {patches} patch positions, not a square grid; pass the original weights file"
        )
    if side == grid:
        return pos_embed
    dim = pos_embed.shape[-1]
    pos = pos_embed.float()
    scale = (grid + POS_EMBED_OFFSET) / side
    patch_pos = nn.functional.interpolate(
        pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2),
        scale_factor=(scale, scale),
        mode="bicubic",
        antialias=False,
    )
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid * grid, dim)
    return torch.cat((pos[:, :1], patch_pos), dim=1).to(pos_embed.dtype)


def dinov2_to_timm(checkpoint: dict[str, torch.Tensor], depth: int, where: object = "checkpoint") -> dict[str, torch.Tensor]:
    """An official DINOv2 backbone checkpoint as a state_dict of timm's ViT built for 224 x 224 inputs.

    Keys the official layout does not have pass through unchanged, so the strict load names them.
    """
    state = dict(checkpoint)
    for key in _TRAINING_ONLY:
        state.pop(key, None)
    mapped: dict[str, torch.Tensor] = {}
    if isinstance(state.get("pos_embed"), torch.Tensor):
        mapped["pos_embed"] = resample_pos_embed(state.pop("pos_embed"), INPUT_SIZE // PATCH_SIZE, where)
    for official, timm_name in official_to_timm_names(depth).items():
        if official in state:
            mapped[timm_name] = state.pop(official)
    mapped.update(state)
    return mapped


def build_vit(architecture: dict[str, int] | None = None) -> nn.Module:
    """timm's DINOv2 ViT (ViT-L/14 unless ``architecture`` overrides its sizes) for 224 x 224 inputs, CLS-token output.

    Built on the meta device and materialised uninitialised: a strict load then fills every parameter, which
    skips initialising 300M parameters that would be overwritten.
    """
    import timm  # deferred: importing timm costs a second

    kwargs: dict[str, Any] = {"pretrained": False, "num_classes": 0, "img_size": INPUT_SIZE, "global_pool": "token", **(architecture or {})}
    with torch.device("meta"):
        model = timm.create_model(TIMM_ARCHITECTURE, **kwargs)
    if any(True for _ in model.buffers()):  # a buffer would stay uninitialised: build normally
        return timm.create_model(TIMM_ARCHITECTURE, **kwargs)
    return model.to_empty(device="cpu")


def pil_resize(images: torch.Tensor, size: int) -> np.ndarray:
    """Pillow's ``Image.resize((size, size), BICUBIC)`` of each uint8 (N, 3, H, W) image -> (N, size, size, 3) uint8.

    This is the call torchvision's ``Resize`` makes on a PIL image, so the pixels are Pillow's whatever its
    version (Pillow 13 chose a new order of the two 8-bit passes for some shapes, which changes pixels). Images
    are resized in threads (Pillow releases the GIL), as many as torch uses.
    """
    arrays = images.permute(0, 2, 3, 1).contiguous().numpy()

    def one(array: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.BICUBIC))

    workers = min(len(arrays), max(1, torch.get_num_threads()))
    if workers <= 1:
        resized = [one(array) for array in arrays]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            resized = list(pool.map(one, arrays))
    return np.stack(resized) if resized else np.empty((0, size, size, 3), dtype=np.uint8)


def dgm_eval_preprocess(images: torch.Tensor) -> torch.Tensor:
    """dgm-eval's DINOv2 transform of RGB images holding 0..255: PIL bicubic resize to 224, ``ToTensor``, ``Normalize``.

    Bit for bit in float32: the resize is Pillow's on the 8-bit image, ``ToTensor`` divides the 8-bit values by
    255 and ``Normalize`` subtracts the float32 mean and divides by the float32 std. The result is on the
    device of ``images``.
    """
    resized = torch.from_numpy(pil_resize(images.to("cpu", torch.uint8), INPUT_SIZE)).to(images.device)
    x = resized.permute(0, 3, 1, 2).to(torch.float32).div(255)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return x.sub(mean).div(std)


class DINOv2Embedder(PretrainedEmbedder):
    """DINOv2 ViT-L/14 (official LVD-142M weights), 1024-d CLS token of the final layer norm, as dgm-eval computes it.

    Runs in fp32 (no autocast), as dgm-eval does. ``architecture`` overrides timm's sizes (``embed_dim``,
    ``depth``, ``num_heads``) in subclasses, e.g. a tiny network for tests.
    """

    name = "dinov2"
    weight_spec = DINOV2_VITL14
    use_amp = False  # dgm-eval computes DINOv2 features in fp32
    architecture: ClassVar[dict[str, int]] = {}

    @property
    def feature_dim(self) -> int:
        """1024 for ViT-L/14, or the ``embed_dim`` a subclass's ``architecture`` sets."""
        return self.architecture.get("embed_dim", 1024)

    def preprocessing(self) -> dict[str, object]:
        """dgm-eval's resize and normalisation, the pos_embed resampling, the layer and the architecture's sizes."""
        return {
            "resize": "pil-bicubic-224",
            "normalize": "imagenet-totensor",
            "pos_embed": f"bicubic-offset-{POS_EMBED_OFFSET}",
            "layer": "cls-token-final-norm",
            "architecture": dict(sorted(self.architecture.items())),
        }

    def build_model(self) -> nn.Module:
        """timm's ViT for 224 x 224, the official checkpoint mapped on (:func:`dinov2_to_timm`), loaded strictly."""
        model = build_vit(self.architecture)
        depth = len(cast(nn.Sequential, model.blocks))  # timm's ViT holds its blocks in a Sequential
        checkpoint = load_state_dict(self.weights_path)
        return load_strict(model, dinov2_to_timm(checkpoint, depth, self.weights_path), self.weights_path, "DINOv2 ViT/14")

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """dgm-eval's transform (see :func:`dgm_eval_preprocess`)."""
        return dgm_eval_preprocess(images)
