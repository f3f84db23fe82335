"""What names a cell: the settings that define its result, by a rule that lets RunConfig grow without renaming records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from curbench.bench import cells
from curbench.config import RunConfig

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "leaderboards").glob("*/records/*.json"))


@dataclass(frozen=True)
class WithANewField(RunConfig):
    """RunConfig as a later version might extend it: one more field, with a default."""

    guidance: float = 1.0


def _extended(config: RunConfig, **changes) -> WithANewField:
    fields = {name: getattr(config, name) for name in RunConfig.__dataclass_fields__}
    return WithANewField(**{**fields, **changes})


def test_every_committed_record_is_named_by_its_config():
    assert len(COMMITTED) > 100
    for path in COMMITTED:
        record = json.loads(path.read_text())
        assert cells.cell_key(cells.config_of(record["config"])) == record["cell_id"] == path.stem, path


def test_adding_a_field_with_a_default_renames_no_committed_record():
    for path in COMMITTED:
        record = json.loads(path.read_text())
        extended = _extended(cells.config_of(record["config"]))
        assert cells.cell_key(extended) == record["cell_id"], path
    # Set away from its default, the new field does name another cell.
    config = cells.config_of(json.loads(COMMITTED[0].read_text())["config"])
    assert cells.cell_key(_extended(config, guidance=2.0)) != cells.cell_key(config)
    assert _extended(config, guidance=2.0).cell()["guidance"] == 2.0


@pytest.mark.parametrize("field", ["data_root", "output_dir", "device", "baselines"])
def test_execution_settings_never_enter_the_id(field):
    values = {"data_root": "/mnt/a", "output_dir": "elsewhere", "device": "cpu", "baselines": False}
    assert cells.cell_key(RunConfig(**{field: values[field]})) == cells.cell_key(RunConfig())
    assert RunConfig(**{field: values[field]}).cell().get(field) is None
