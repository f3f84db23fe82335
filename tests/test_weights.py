"""Weight lookup order, pinned-checksum downloads, offline errors and safe loading."""

from __future__ import annotations

import hashlib
import pathlib

import pytest
import torch

from curbench.embedders import weights
from curbench.embedders.swav import SwAVEmbedder
from curbench.embedders.weights import WeightSpec, file_sha256, load_state_dict, resolve_weights
from curbench.errors import InvalidInputError, MissingWeightsError


@pytest.fixture(autouse=True)
def no_user_weights(tmp_path, monkeypatch):
    """Keep the developer's real weight folders out of the lookup."""
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def _payload(tmp_path, content: bytes = b"fake weights") -> tuple[pathlib.Path, str]:
    source = tmp_path / "upstream" / "w.pth"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(content)
    return source, hashlib.sha256(content).hexdigest()


def test_lookup_order_explicit_then_env_then_cache(tmp_path, monkeypatch, isolated_cache):
    spec = WeightSpec("w.pth", "file:///nonexistent/w.pth", None)
    env_dir, explicit = tmp_path / "env", tmp_path / "mine.pth"
    for folder in (env_dir, isolated_cache / "weights"):
        folder.mkdir(parents=True)
        (folder / "w.pth").write_bytes(b"x")
    explicit.write_bytes(b"y")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(env_dir))
    assert resolve_weights(spec, explicit) == explicit
    assert resolve_weights(spec) == env_dir / "w.pth"
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV)
    assert resolve_weights(spec) == isolated_cache / "weights" / "w.pth"


def test_torch_hub_checkpoints_are_found(tmp_path):
    hub = pathlib.Path(torch.hub.get_dir()) / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "w.pth").write_bytes(b"x")
    assert resolve_weights(WeightSpec("w.pth", "file:///nonexistent", None)) == hub / "w.pth"


def test_download_verifies_the_pinned_checksum(tmp_path, isolated_cache):
    source, digest = _payload(tmp_path)
    path = resolve_weights(WeightSpec("w.pth", source.as_uri(), digest))
    assert path == isolated_cache / "weights" / "w.pth"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    prefix_only = WeightSpec("v.pth", source.as_uri(), digest[:8])  # torch.hub-style hash prefix
    assert resolve_weights(prefix_only).read_bytes() == b"fake weights"


def test_corrupt_download_fails_and_leaves_nothing(tmp_path, isolated_cache):
    source, digest = _payload(tmp_path)
    wrong = "0" * 64 if not digest.startswith("0") else "f" * 64
    with pytest.raises(MissingWeightsError, match="sha256.*corrupt") as info:
        resolve_weights(WeightSpec("w.pth", source.as_uri(), wrong))
    assert "\n" not in str(info.value)
    assert not any((isolated_cache / "weights").glob("*w.pth*"))


def test_offline_error_names_file_url_and_where_to_put_it(monkeypatch, isolated_cache):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    spec = weights.SWAV_800EP
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(spec)
    message = str(info.value)
    assert "\n" not in message
    for part in (spec.filename, spec.url, str(isolated_cache / "weights"), "--weights PATH"):
        assert part in message


def test_unreachable_url_is_a_missing_weights_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="download failed"):
        resolve_weights(WeightSpec("w.pth", (tmp_path / "absent.pth").as_uri(), None))


def test_missing_explicit_path(tmp_path):
    with pytest.raises(MissingWeightsError, match="check --weights"):
        resolve_weights(weights.FID_INCEPTION, tmp_path / "nope.pth")


def test_pretrained_embedder_fails_at_construction_when_weights_missing(monkeypatch):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(MissingWeightsError, match="swav_800ep_pretrain.pth.tar"):
        SwAVEmbedder()


class _Booby:
    """Unpickling this would create a file: proof that arbitrary code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(1), "payload": _Booby(marker)}, path)
    with pytest.raises(InvalidInputError, match="safely") as info:
        load_state_dict(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_state_dict_loads_and_file_hash_matches_hashlib(tmp_path):
    path = tmp_path / "ok.pth"
    torch.save({"w": torch.arange(3.0)}, path)
    assert torch.equal(load_state_dict(path)["w"], torch.arange(3.0))
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_pinned_urls_carry_their_checksums():
    # torch.hub convention: the hash prefix in the file name is the start of the full sha256 we pin.
    for spec in (weights.FID_INCEPTION, weights.TORCHVISION_INCEPTION):
        prefix = spec.filename.rsplit("-", 1)[1].split(".")[0]
        assert len(spec.sha256) == 64 and spec.sha256.startswith(prefix) and spec.url.endswith(spec.filename)
    assert len(weights.CLIP_VIT_B_32.sha256) == 64 and weights.CLIP_VIT_B_32.sha256 in weights.CLIP_VIT_B_32.url


def test_a_local_file_that_does_not_match_its_pin_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "env"
    folder.mkdir()
    (folder / "w.pth").write_bytes(b"truncated")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(folder))
    expected = hashlib.sha256(b"the real weights").hexdigest()
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(WeightSpec("w.pth", "https://example.invalid/w.pth", expected))
    message = str(info.value)
    assert "\n" not in message
    for part in (str(folder / "w.pth"), expected, hashlib.sha256(b"truncated").hexdigest(), "delete it"):
        assert part in message


def test_a_local_file_is_hashed_once_across_processes(tmp_path, monkeypatch):
    folder = tmp_path / "env"
    folder.mkdir()
    path = folder / "w.pth"
    path.write_bytes(b"weights")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(folder))
    spec = WeightSpec("w.pth", "https://example.invalid/w.pth", hashlib.sha256(b"weights").hexdigest())
    assert resolve_weights(spec) == path
    # A new process: nothing in memory, so the digest must come from the cache, not from hashing the file again.
    with monkeypatch.context() as patch:
        patch.setattr(weights, "_digests", {})
        patch.setattr(weights.hashlib, "sha256", lambda: pytest.fail("hashed the unchanged file again"))
        assert resolve_weights(spec) == path
    path.write_bytes(b"changed!")  # a new size and mtime: verified again, and refused
    with pytest.raises(MissingWeightsError, match="has sha256"):
        resolve_weights(spec)
