"""Where pretrained weights come from, and how they are checked and loaded safely.

Lookup order: an explicit path, then ``$CURBENCH_WEIGHTS_DIR``, curbench's cache
and torch.hub's checkpoint folder, then a download from a pinned URL (skipped
when ``CURBENCH_OFFLINE=1``). Files found on disk and downloads are both checked
against the pin; an explicit path is the user's own file and is not. Loading
never unpickles arbitrary objects.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from curbench import atomic
from curbench.cache import cache_root, cache_unusable
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
        """True if ``digest`` (lowercase hex) starts with the pinned digest or prefix, or if none is pinned."""
        return self.sha256 is None or digest.startswith(self.sha256.lower())


# torch-fidelity's conversion of the TF 2015-12-05 FID Inception (95,628,359 bytes; the same file pytorch-fid
# ships as pt_inception-2015-12-05-6726825d.pth). Full sha256 as published by several independent users of the
# file; it starts with the prefix in the file name.
FID_INCEPTION = WeightSpec(
    "weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
)
# torchvision's Inception_V3_Weights.IMAGENET1K_V1 (108,949,747 bytes); full sha256 as published by independent
# users of the file, starting with the prefix in the file name.
TORCHVISION_INCEPTION = WeightSpec(
    "inception_v3_google-0cc3c7bd.pth",
    "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    "0cc3c7bd75056d25e46cba549dc184522069b81e9787eff6df84f397bd52a5ef",
)
# OpenAI's TorchScript archive; the URL path carries the full sha256 (as in torch-fidelity's clip extractor).
CLIP_VIT_B_32 = WeightSpec(
    "ViT-B-32.pt",
    "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
)
# facebookresearch/swav's 800-epoch ResNet-50; upstream publishes no checksum and none could be established
# without downloading the file, so it is unpinned (strict key loading is the only check).
SWAV_800EP = WeightSpec(
    "swav_800ep_pretrain.pth.tar",
    "https://dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar",
    None,
)

DIGESTS_FILE = "sha256.json"  # in <cache>/weights: {path: [size, mtime_ns, sha256]} of local weight files
_digests: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, computed once per (path, size, mtime): weights are large, so the digest is
    remembered in this process and in the cache for later runs."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        entry = _stored_digests().get(key[0])
        if isinstance(entry, list) and len(entry) == 3 and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            _digests[key] = str(entry[2])
        else:
            digest = hashlib.sha256()
            with open(resolved, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            _remember(resolved, digest.hexdigest())
    return _digests[key]


def _digests_path() -> Path:
    return cache_root() / "weights" / DIGESTS_FILE


def _stored_digests() -> dict[str, Any]:
    try:
        stored = json.loads(_digests_path().read_text())
    except (OSError, ValueError):  # none yet, or unreadable: hash again
        return {}
    return stored if isinstance(stored, dict) else {}


def _remember(path: Path, digest: str) -> None:
    stat = path.stat()
    _digests[(str(path), stat.st_size, stat.st_mtime_ns)] = digest
    stored = _stored_digests()
    stored[str(path)] = [stat.st_size, stat.st_mtime_ns, digest]
    try:
        atomic.write_json(_digests_path(), stored)
    except OSError as exc:
        cache_unusable(exc)


def _verified(spec: WeightSpec, path: Path) -> Path:
    """``path`` when its sha256 matches ``spec``'s pin (or there is none), else one line saying how to fix it."""
    if spec.sha256 is not None:
        digest = file_sha256(path)
        if not spec.matches(digest):
            raise MissingWeightsError(
                f"weights file {path} has sha256 {digest} but {spec.filename} must have {spec.sha256}: it is corrupt "
                f"or another file; delete it and download {spec.url} again (or pass your own file with --weights PATH)"
            )
    return path


def search_dirs() -> list[Path]:
    """Folders searched for a weights file, in order."""
    dirs = [Path(os.environ[WEIGHTS_DIR_ENV])] if os.environ.get(WEIGHTS_DIR_ENV) else []
    return [*dirs, cache_root() / "weights", Path(torch.hub.get_dir()) / "checkpoints"]


def resolve_weights(spec: WeightSpec, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The local path of ``spec``'s weights: explicit path, search folders, then a verified download."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MissingWeightsError(f"weights file not found: {path}; check --weights (expected {spec.filename})")
        return path  # a user's own (e.g. fine-tuned) weights: no pinned checksum to match
    for directory in search_dirs():
        candidate = directory / spec.filename
        if candidate.is_file():
            return _verified(spec, candidate)
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
                    f"downloaded {spec.filename} has sha256 {digest.hexdigest()[:16]}... but {(spec.sha256 or '')[:16]}... "
                    f"was expected; the download is corrupt or the URL changed: fetch {spec.url} by hand"
                )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _missing(spec, f"the download failed ({type(exc).__name__}: {exc})") from None
    _remember(target.resolve(), digest.hexdigest())
    return target


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
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


def load_torchscript(path: str | os.PathLike[str]) -> torch.jit.ScriptModule:
    """Load a TorchScript archive (code is TorchScript, not pickled Python objects)."""
    try:
        with warnings.catch_warnings():  # torch 2.9+ flags TorchScript as deprecated; OpenAI's CLIP ships as it
            warnings.simplefilter("ignore", FutureWarning)
            # torch.jit.load is unannotated; it returns a RecursiveScriptModule.
            return cast(torch.jit.ScriptModule, torch.jit.load(str(path), map_location="cpu"))  # type: ignore[no-untyped-call]
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
