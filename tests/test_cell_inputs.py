"""A cell's identity includes the content of every input file it names, so a replaced file is never reused stale."""

from __future__ import annotations

import hashlib

import numpy as np

from curbench.bench import cells
from curbench.config import RunConfig


def _npy(path, seed: int) -> None:
    np.save(path, np.random.default_rng(seed).integers(0, 256, size=(30, 1, 8, 8), dtype=np.uint8))


def test_replacing_an_input_file_renames_the_cell_and_the_same_content_keeps_it(tmp_path):
    data = tmp_path / "ds.npy"
    _npy(data, 0)
    config = RunConfig(dataset="npy", dataset_options={"path": str(data)}, output_dir=str(tmp_path / "runs"))
    first = cells.cell_key(config)
    assert cells.cell_of(config)["inputs"] == {"dataset_options.path": hashlib.sha256(data.read_bytes()).hexdigest()}
    _npy(data, 1)  # same name, new content
    assert cells.cell_key(config) != first
    _npy(data, 0)  # the original content again
    assert cells.cell_key(config) == first


def test_weights_files_are_hashed_and_cells_without_input_files_keep_their_ids(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"weights v1")
    config = RunConfig(weights=str(weights))
    assert cells.cell_of(config)["inputs"] == {"weights": hashlib.sha256(b"weights v1").hexdigest()}
    plain = RunConfig()
    assert "inputs" not in cells.cell_of(plain)  # the committed records' ids stay what they were
    assert cells.config_of(cells.cell_of(config)) == config
