"""Where pretrained weights come from, and how they are checked and loaded safely.

Lookup order: an explicit path, then ``$CURBENCH_WEIGHTS_DIR``, curbench's cache
and torch.hub's checkpoint folder, then a download from a pinned URL (skipped
when ``CURBENCH_OFFLINE=1``). Loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from curbench import atomic
from curbench.cache import cache_root
from curbench.errors import InvalidInputError, MissingWeightsError
from curbench.progress import progress

WEIGHTS_DIR_ENV = "CURBENCH_WEIGHTS_DIR"
OFFLINE_ENV = "CURBENCH_OFFLINE"
_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class WeightSpec:
    """A pinned weights file.

    ``sha256`` is the full hex digest, or a prefix of it (torch.hub's convention
    of encoding the first hex digits in the file name), or None where upstream
    publishes no checksum.
    """

    filename: str
    url: str
    sha256: str | None = None

    def matches(self, digest: str) -> bool:
        return self.sha256 is None or digest.startswith(self.sha256.lower())


# torch-fidelity's conversion of the TF 2015-12-05 FID Inception; hash prefix from the file name.
FID_INCEPTION = WeightSpec(
    "weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    "6726825d",
)
# torchvision's Inception_V3_Weights.IMAGENET1K_V1; hash prefix from the file name.
TORCHVISION_INCEPTION = WeightSpec(
    "inception_v3_google-0cc3c7bd.pth",
    "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    "0cc3c7bd",
)
# OpenAI's TorchScript archive; the URL path carries the full sha256 (as in torch-fidelity's clip extractor).
CLIP_VIT_B_32 = WeightSpec(
    "ViT-B-32.pt",
    "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
)
# facebookresearch/swav's 800-epoch ResNet-50; upstream publishes no checksum.
SWAV_800EP = WeightSpec(
    "swav_800ep_pretrain.pth.tar",
    "https://dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar",
    None,
)

_digests: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, memoised per (path, size, mtime) because weights are large."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def search_dirs() -> list[Path]:
    """Folders searched for a weights file, in order."""
    dirs = [Path(os.environ[WEIGHTS_DIR_ENV])] if os.environ.get(WEIGHTS_DIR_ENV) else []
    return [*dirs, cache_root() / "weights", Path(torch.hub.get_dir()) / "checkpoints"]


def resolve_weights(spec: WeightSpec, explicit: str | os.PathLike | None = None) -> Path:
    """The local path of ``spec``'s weights: explicit path, search folders, then a verified download."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MissingWeightsError(f"weights file not found: {path}; check --weights (expected {spec.filename})")
        return path  # a user's own (e.g. fine-tuned) weights: no pinned checksum to match
    for directory in search_dirs():
        candidate = directory / spec.filename
        if candidate.is_file():
            return candidate
    return _download(spec, cache_root() / "weights" / spec.filename)


def _missing(spec: WeightSpec, reason: str) -> MissingWeightsError:
    place = os.environ.get(WEIGHTS_DIR_ENV) or str(cache_root() / "weights")
    return MissingWeightsError(
        f"weights {spec.filename} not found and {reason}; download {spec.url} into {place}/ "
        f"(or set ${WEIGHTS_DIR_ENV}) or pass --weights PATH"
    )


def _download(spec: WeightSpec, target: Path) -> Path:
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise _missing(spec, f"downloads are off (${OFFLINE_ENV})")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(spec.url, timeout=_DOWNLOAD_TIMEOUT_S) as response, atomic.atomic_path(target) as tmp:
            size = int(response.headers.get("Content-Length") or 0) or None
            with open(tmp, "wb") as out, progress(total=size, desc=spec.filename, unit="B") as bar:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            if not spec.matches(digest.hexdigest()):
                # Raising inside atomic_path deletes the partial file, so nothing bad is cached.
                raise MissingWeightsError(
                    f"downloaded {spec.filename} has sha256 {digest.hexdigest()[:16]}... but {spec.sha256[:16]}... "
                    f"was expected; the download is corrupt or the URL changed: fetch {spec.url} by hand"
                )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _missing(spec, f"the download failed ({type(exc).__name__}: {exc})") from None
    return target


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load`` restricted to tensors and plain containers (no arbitrary unpickling)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or unsafe pickles
        raise InvalidInputError(
            f"cannot load weights {path} safely ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "pass a state_dict saved with torch.save"
        ) from None
    if not isinstance(state, dict):
        raise InvalidInputError(f"weights {path} hold a {type(state).__name__}, not a state_dict; pass a state_dict file")
    return state


def load_torchscript(path: str | os.PathLike) -> torch.jit.ScriptModule:
    """Load a TorchScript archive (code is TorchScript, not pickled Python objects)."""
    try:
        with warnings.catch_warnings():  # torch 2.9+ flags TorchScript as deprecated; OpenAI's CLIP ships as it
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        raise InvalidInputError(
            f"weights {path} are not a TorchScript archive ({str(exc).splitlines()[0]}); pass the original .pt file"
        ) from None


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], path: object, expected: str) -> nn.Module:
    """``load_state_dict(strict=True)`` with a one-line error naming the mismatching keys."""
    wanted, given = set(model.state_dict()), set(state)
    missing, unexpected = sorted(wanted - given), sorted(given - wanted)
    if missing or unexpected:
        raise InvalidInputError(
            f"weights {path} do not fit {expected}: missing keys {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected keys {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}; pass the original weights file"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # same names, wrong shapes
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc))
        raise InvalidInputError(f"weights {path} do not fit {expected}: {detail}; pass the original weights file") from None
    return model
