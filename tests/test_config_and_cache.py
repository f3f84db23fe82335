"""Typed configs (YAML <-> flags), option parsing, the verified array cache, atomic writes, records."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from curbench import atomic
from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id, read_record
from curbench.cache import ArrayCache, array_digest
from curbench.config import DEFAULT_METRICS, RUN_FIELDS, RunConfig, build_run_config, parse_options
from curbench.errors import InvalidInputError
from curbench.plugins import load_registry

DIRECTIONS = declared_directions(load_registry(), DEFAULT_METRICS)


def test_yaml_keys_are_flags_and_flags_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("scorer: gaussian\nretention: 30\nscorer_options: {reg_covar: 0.001}\n")
    config = build_run_config(path, {"retention": 70.0, "seed": None})
    assert (config.scorer, config.retention, config.seed) == ("gaussian", 70.0, 0)
    assert config.scorer_options == {"reg_covar": 0.001}


def test_shipped_default_config_is_the_no_argument_run():
    assert build_run_config("configs/default.yaml", {}) == RunConfig()


def test_every_cli_flag_of_run_is_a_config_field():
    from typer.main import get_command

    from curbench.cli import app

    run = get_command(app).commands["run"]
    names = {p.name for p in run.params} - {"config", "quiet", "save_features"}  # output actions, not settings
    # Repeatable flags are singular: --scorer-option k=v for scorer_options, --metric NAME for metrics.
    fields = {f[:-len("_options")] + "_option" if f.endswith("_options") else f.removesuffix("s") if f == "metrics" else f
              for f in RUN_FIELDS}
    assert names == fields


@pytest.mark.parametrize(
    ("text", "message"),
    [("scorre: knn\n", "unknown key 'scorre'.*did you mean scorer"), ("retention: 0\n", "retention must be in"),
     ("[1, 2]\n", "must be a mapping"), ("a: [\n", "not valid YAML"), ("tie: lte\n", "tie must be one of lt, le")],
)
def test_bad_config_files_fail_with_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=message) as info:
        build_run_config(path, {})
    assert "\n" not in str(info.value)


def test_parse_options_types_values():
    assert parse_options(["k=5", "psi=0.5", "name=cosine", "flag=true"]) == {"k": 5, "psi": 0.5, "name": "cosine", "flag": True}
    with pytest.raises(InvalidInputError, match="expects key=value"):
        parse_options(["novalue"])


def test_cache_roundtrip_and_corruption_is_rebuilt(tmp_path):
    cache = ArrayCache("unit", root=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"mu": np.arange(3.0)}

    first = cache.get_or_compute("key", compute)
    second = cache.get_or_compute("key", compute)
    np.testing.assert_array_equal(first["mu"], second["mu"])
    assert len(calls) == 1
    raw = bytearray(cache.path("key").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    cache.path("key").write_bytes(bytes(raw))
    assert cache.get("key") is None and not cache.path("key").exists()
    cache.get_or_compute("key", compute)
    assert len(calls) == 2


def test_array_digest_depends_on_dtype_shape_and_content():
    a = np.zeros((2, 3), np.float32)
    assert array_digest(a) == array_digest(a.copy())
    assert len({array_digest(a), array_digest(a.astype(np.float64)), array_digest(a.reshape(3, 2))}) == 3


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_records_roundtrip_and_cell_hash_ignores_execution_fields(tmp_path):
    config = RunConfig()
    assert cell_id(config.cell()) == cell_id(config.replace(output_dir="elsewhere", device="cpu").cell())
    assert cell_id(config.cell()) != cell_id(config.replace(seed=1).cell())
    record = ResultRecord(
        cell_id=cell_id(config.cell()), config=config.cell(), metrics={"fid": 1.5},
        selection=Selection(10, 5, "abc", {"class": {"0": 0.5}}), sampling={}, audit={},
        provenance=Provenance.collect("cpu", 1.0),
        directions=DIRECTIONS,
    )
    path = record.write(tmp_path)
    assert read_record(path) == record == read_record(path, config.cell())
    assert "numpy" in record.provenance.packages
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():  # the processor, as Linux names it: trained embedders differ across CPU types
        assert record.provenance.cpu == re.search(r"^model name\s*:\s*(.*)$", cpuinfo.read_text(), re.M).group(1).strip()
    older = record.to_dict()
    del older["provenance"]["cpu"]  # records written before the field existed still load
    assert ResultRecord.from_dict(older).provenance.cpu == ""
    # Another cell's record (copied or misplaced) or one without metrics is not a finished cell of this config.
    assert read_record(path, config.replace(seed=1).cell()) is None
    record.metrics = {}
    record.write(tmp_path)
    assert read_record(path) is None and read_record(path, config.cell()) is None
    for text in ("{ truncated", "[1, 2]"):
        path.write_text(text)
        assert read_record(path) is None


def test_config_is_a_typed_frozen_dataclass():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig().seed = 3


def test_point_datasets_get_defaults_that_fit_them_and_flags_still_win(tmp_path):
    toy = build_run_config(None, {"dataset": "toy"})
    assert (toy.generator, toy.embedder, toy.eval_embedder) == ("mlp", "pixels", "pixels")
    assert build_run_config(None, {"dataset": "toy", "generator": "dcgan"}).generator == "dcgan"
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("dataset: toy\neval_embedder: lenet\n")
    assert build_run_config(yaml_file, {}).eval_embedder == "lenet"
    assert build_run_config(None, {}) == RunConfig()  # digits keeps the image defaults
    assert build_run_config(None, {"dataset": "no-such-set"}).generator == "dcgan"  # the runner reports the name


def test_exponent_option_values_are_numbers():
    from curbench.config import parse_options

    assert parse_options(["lr=1e-4", "x=2E+3", "name=1e", "n=5"]) == {"lr": 1e-4, "x": 2000.0, "name": "1e", "n": 5}


def test_cell_features_are_verified_before_they_are_copied(tmp_path):
    """features.npz carries a checksum; a damaged one is named in one line instead of being copied."""
    from types import SimpleNamespace

    from curbench.bench.cells import CELLS_DIR, FEATURES_FILE
    from curbench.cache import load_verified, save_verified
    from curbench.cli import _save_features
    from curbench.errors import CurbenchError

    cell = tmp_path / "runs" / CELLS_DIR / "abc"
    cell.mkdir(parents=True)
    real, fake = np.arange(12.0).reshape(4, 3), np.ones((2, 3))
    save_verified(cell / FEATURES_FILE, {"real": real, "fake": fake})
    assert np.array_equal(load_verified(cell / FEATURES_FILE)["fake"], fake)
    records = {"method": SimpleNamespace(cell_id="abc")}
    copied = _save_features(tmp_path / "runs", records, tmp_path / "out")
    assert [p.name for p in copied] == ["real.npy", "method.npy"] and np.array_equal(np.load(copied[0]), real)
    np.savez(cell / FEATURES_FILE, real=real, fake=fake * 2, __checksum__=np.array("0" * 64))  # edited by hand
    assert load_verified(cell / FEATURES_FILE) is None
    with pytest.raises(CurbenchError, match="is damaged or was not written by this curbench"):
        _save_features(tmp_path / "runs", records, tmp_path / "out2")
