"""The README's offline commands run as written (installed console script, a scratch copy of the repository)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SECTION = "### More commands"


def readme_commands() -> list[str]:
    """The lines of the first ```bash block after the SECTION heading."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index(SECTION)
    opening = next(i for i in range(start, len(lines)) if lines[i] == "```bash")
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i] == "```")
    return [line for line in lines[opening + 1 : closing] if line.strip()]


def test_every_offline_readme_command_runs_as_written(tmp_path):
    for part in ("configs", "leaderboards", "docs"):
        shutil.copytree(REPO / part, tmp_path / part)
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    executable = shutil.which("curbench")
    assert executable, "the curbench console script is not installed"
    outputs = {}
    commands = readme_commands()
    assert len(commands) >= 8 and all(command.startswith("curbench ") for command in commands)
    for command in commands:
        args = shlex.split(command)
        result = subprocess.run([executable, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        assert "Traceback" not in result.stderr, command
        outputs[args[1] + (" " + args[2] if args[1] == "run" and len(args) > 2 else "")] = result.stdout

    real = np.load(tmp_path / "features" / "real.npy")
    assert real.shape == (2000, 2)  # the toy ring's points are its own evaluation space
    method = next(json.loads(p.read_text()) for p in (tmp_path / "runs" / "cells").glob("*/result.json")
                  if json.loads(p.read_text())["config"]["scorer"] == "knn")
    printed = json.loads(outputs["metrics"])
    assert printed["fid"] == pytest.approx(method["metrics"]["fid"], rel=1e-9)
    scores, kept = np.load(tmp_path / "scores.npy"), np.load(tmp_path / "scores_kept.npy")
    assert scores.shape == (1797,) and len(kept) == int((scores > np.percentile(scores, 50)).sum())
    assert "suite digits: 105 cells" in outputs["sweep"]
    assert "| full data |" in (tmp_path / "report" / "leaderboard.md").read_text()
    assert "leaderboards up to date" in outputs["leaderboard"]
    assert "lenet" in outputs["plugins"] and "influence" in outputs["plugins"]
