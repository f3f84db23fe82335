"""`curbench submit`: a third-party scorer joins an existing track, reusing the committed records."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_an_outlier_scorer_joins_the_toy_track_with_the_committed_cells_reused(tmp_path):
    pytest.importorskip("curbench_outliers")
    configs, boards = tmp_path / "configs", tmp_path / "leaderboards"
    configs.mkdir()
    # The toy suite at one retention and seed: its full-data and random cells are committed already.
    suite = (REPO / "configs" / "toy.yaml").read_text()
    suite = suite.replace("  retention: [95, 75, 50]\n  seed: [0, 1, 2, 3, 4]", "  retention: [75]\n  seed: [0]")
    (configs / "toy.yaml").write_text(suite)
    shutil.copytree(REPO / "leaderboards" / "toy", boards / "toy")
    before = {p.name: p.read_bytes() for p in (boards / "toy" / "records").glob("*.json")}

    command = [sys.executable, "-m", "curbench", "submit", "--track", "toy", "--scorer", "isolation-forest",
               "--configs", str(configs), "--leaderboards", str(boards), "--output-dir", str(tmp_path / "runs"),
               "--workers", "1", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "3 cells, 2 reused from" in done.stdout and "1 to run" in done.stdout

    after = {p.name: p.read_bytes() for p in (boards / "toy" / "records").glob("*.json")}
    assert {name: after[name] for name in before} == before  # committed records untouched
    [new] = [json.loads(after[name]) for name in set(after) - set(before)]
    assert new["config"]["scorer"] == "isolation-forest" and new["config"]["retention"] == 75.0
    assert new["config"]["plugins"]["scorer:isolation-forest"]["distribution"] == "curbench-outliers"
    page = (boards / "toy" / "leaderboard.md").read_text()
    assert "**Submitted methods**" in page and "`isolation-forest`" in page
    assert "| method | 75 | isolation-forest |" in page
    # The submission printed its rows with marks and left nothing for `leaderboard --check` (or CI) to reject.
    assert "| method | 75 | isolation-forest (curbench-outliers) |" in done.stdout and "| random subset | 75 |" in done.stdout
    assert "Warning" not in done.stderr
    assert (tmp_path / "docs" / "findings.md").is_file() and (tmp_path / "docs" / "site" / "index.html").is_file()
    check = subprocess.run([sys.executable, "-m", "curbench", "leaderboard", "--check", "--root", str(boards),
                            "--configs", str(configs), "--quiet"], capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stdout + check.stderr
