"""Faults: a read-only --output-dir fails `run` and `sweep` in one line before any cell starts, also under root."""

from __future__ import annotations

from faults.children import curbench_unprivileged
from test_cli_errors import assert_user_error


def test_a_read_only_output_dir_fails_run_and_sweep_before_any_work(tmp_path):
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o555)
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: read-only\ndataset: toy\ngrid: {seed: [0]}\n")
    # The folder itself, and a new one to be made inside it.
    for command, output_dir in ((("run", "--dataset", "toy"), readonly), (("sweep", "--config", str(suite)), readonly / "runs")):
        result = curbench_unprivileged(*command, "--quiet", "--output-dir", str(output_dir))
        assert_user_error(result, f"cannot write --output-dir {output_dir}", "Permission denied", "writable folder")
    assert list(readonly.iterdir()) == []
