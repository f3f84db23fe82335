"""leaderboards/requirements.txt: how CI installs the outside plugins that committed records use."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

from curbench.boards import requirements

REPO = Path(__file__).resolve().parent.parent


def _dist(tmp_path: Path, name: str, version: str, direct_url: dict | None) -> PathDistribution:
    info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return PathDistribution(info)


def test_bundled_plugins_are_recognised_by_where_pip_installed_them_from(tmp_path):
    inside = _dist(tmp_path / "a", "curbench-outliers", "0.1.0",
                   {"url": (REPO / "plugins" / "curbench-outliers").as_uri(), "dir_info": {"editable": True}})
    elsewhere = _dist(tmp_path / "b", "curbench-lof", "1.0", {"url": (tmp_path / "lof").as_uri(), "dir_info": {}})
    from_pypi = _dist(tmp_path / "c", "curbench-vendi", "2.3.1", None)
    assert requirements.installed_from(inside, REPO)
    assert not requirements.installed_from(elsewhere, REPO) and not requirements.installed_from(from_pypi, REPO)


def test_the_requirement_line_pins_a_git_commit_or_a_release(tmp_path):
    git = _dist(tmp_path / "a", "curbench-lof", "1.0", {
        "url": "https://example.org/lab/curbench-lof.git", "vcs_info": {"vcs": "git", "commit_id": "a" * 40}})
    assert requirements.requirement_line(git) == f"curbench-lof @ git+https://example.org/lab/curbench-lof.git@{'a' * 40}"
    assert requirements.requirement_line(_dist(tmp_path / "b", "curbench-vendi", "2.3.1", None)) == "curbench-vendi==2.3.1"


def test_require_adds_an_outside_distribution_once_and_never_a_bundled_one(tmp_path, monkeypatch):
    outside = _dist(tmp_path / "site", "curbench-vendi", "2.3.1", None)
    bundled = _dist(tmp_path / "site2", "curbench-outliers", "0.1.0",
                    {"url": (tmp_path / "repo" / "plugins" / "curbench-outliers").as_uri(), "dir_info": {"editable": True}})
    monkeypatch.setattr(requirements, "distribution", {"curbench-vendi": outside, "curbench-outliers": bundled}.__getitem__)
    boards = tmp_path / "repo" / "leaderboards"
    boards.mkdir(parents=True)
    assert requirements.require(boards, "curbench-outliers") is None
    assert not (boards / requirements.REQUIREMENTS_FILE).exists()
    assert requirements.require(boards, "curbench-vendi") == "curbench-vendi==2.3.1"
    assert requirements.require(boards, "curbench-vendi") is None  # listed already
    lines = (boards / requirements.REQUIREMENTS_FILE).read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == ["curbench-vendi==2.3.1"]


def test_the_committed_file_is_what_the_readme_install_reads_and_pip_accepts():
    readme = (REPO / "README.md").read_text()
    assert "-r leaderboards/requirements.txt" in readme
    path = REPO / "leaderboards" / requirements.REQUIREMENTS_FILE
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--no-deps", "-r", str(path)],
                          capture_output=True, text=True, timeout=120)
    if "no such option: --dry-run" in done.stderr:
        pytest.skip("this pip has no --dry-run")
    assert done.returncode == 0, done.stderr
