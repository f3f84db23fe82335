"""Plugins are part of a cell's identity: another plugin version or code_version names another cell."""

from __future__ import annotations

import pytest

from curbench.bench.cells import cell_key, cell_of, finished_record, plugin_identity
from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.config import DEFAULT_METRICS, RunConfig
from curbench.plugins import ScorerRecord, load_registry


class Alpha:
    def fit(self, features, labels=None):
        return self

    def score(self, features):
        return features[:, 0]


def _registry(version: str, code_version: str | None = None):
    registry = load_registry()
    registry.add(ScorerRecord("alpha", Alpha, "", "alpha_plugin", "alpha-dist", version, code_version=code_version))
    return registry


def _write_record(config: RunConfig, registry) -> None:
    cell = cell_of(config, registry)
    ResultRecord(
        cell_id(cell), cell, {"fid": 1.0}, Selection(10, 5, "h", {}), {}, {},
        Provenance("0", {}, None, "3", "cpu", 1.0, "now"), directions=declared_directions(registry, DEFAULT_METRICS),
    ).write(f"{config.output_dir}/cells/{cell_id(cell)}")


def test_a_third_party_scorer_is_recorded_with_its_distribution_and_version():
    config = RunConfig(scorer="alpha")
    assert plugin_identity(config, _registry("1.0")) == {"scorer:alpha": {"distribution": "alpha-dist", "version": "1.0"}}
    assert plugin_identity(RunConfig(), _registry("1.0")) == {}  # curbench's own components: curbench's code


def test_upgrading_a_plugin_recomputes_its_cells_and_leaves_the_others(tmp_path):
    config = RunConfig(scorer="alpha", output_dir=str(tmp_path))
    old, new = _registry("1.0"), _registry("1.1")
    _write_record(config, old)
    assert finished_record(config, old) is not None
    assert finished_record(config, new) is None  # a new version: the cell is not reused
    assert cell_key(config, old) != cell_key(config, new)
    baseline = config.replace(scorer="random", retention=100.0)
    assert cell_key(baseline, old) == cell_key(baseline, new)  # cells without the plugin keep their ids


def test_bumping_code_version_recomputes_too(tmp_path):
    config = RunConfig(scorer="alpha", output_dir=str(tmp_path))
    _write_record(config, _registry("1.0"))
    assert finished_record(config, _registry("1.0", code_version="2")) is None
    assert _registry("1.0", "2").get("scorer", "alpha").identity()["code_version"] == "2"


def _editable_install(tmp_path, installed: str, declared: str | None, editable: bool = True):
    """A dist-info as pip writes it for ``pip install -e <source>``, with ``installed`` as its recorded version."""
    import json
    from importlib.metadata import PathDistribution

    source = tmp_path / "source"
    source.mkdir()
    if declared is not None:
        (source / "pyproject.toml").write_text(f'[project]\nname = "curbench-demo"\nversion = "{declared}"\n')
    info = tmp_path / f"curbench_demo-{installed}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: curbench-demo\nVersion: {installed}\n")
    (info / "direct_url.json").write_text(json.dumps({"url": source.as_uri(), "dir_info": {"editable": editable}}))
    return PathDistribution(info)


@pytest.mark.parametrize(("declared", "editable", "expected"), [
    ("0.2.0", True, "0.2.0"),   # bumped in the source after `pip install -e`: the bump names new cells at once
    ("0.1.0", True, "0.1.0"),
    (None, True, "0.1.0"),      # no static version in the source: what pip recorded
    ("0.2.0", False, "0.1.0"),  # a regular install from a folder is a snapshot: its recorded version stands
])
def test_an_editable_plugin_is_named_by_the_version_its_source_declares(tmp_path, declared, editable, expected):
    from curbench.plugins.installs import effective_version

    assert effective_version(_editable_install(tmp_path, "0.1.0", declared, editable)) == expected
