"""``leaderboards/requirements.txt``: the plugin distributions that committed records need beyond the README's install.

CI installs the README's command, which ends in ``-r leaderboards/requirements.txt``, so a record made with an
outside plugin (one not installed from this repository) can be checked and its ``--drift`` cells rerun.
``curbench submit`` adds the line of the scorer's distribution: ``name @ git+URL@commit`` when it was installed
from a VCS, else ``name==version`` (which must then be on PyPI).
"""

from __future__ import annotations

from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from curbench import atomic
from curbench.plugins.installs import direct_url, source_folder

REQUIREMENTS_FILE = "requirements.txt"
HEADER = """\
# Plugin distributions that the committed records use beyond those the README installs.
# CI installs this file (the README's install command ends in -r leaderboards/requirements.txt).
# `curbench submit` adds a line for an outside plugin; pin it to a PyPI release or a git commit.
"""


def installed_from(dist: Distribution, repository: Path) -> bool:
    """Whether the distribution was installed from a folder inside ``repository`` (a bundled plugin)."""
    folder = source_folder(dist)
    if folder is None:
        return False
    source = folder.resolve()
    return source == repository.resolve() or repository.resolve() in source.parents


def requirement_line(dist: Distribution) -> str:
    """How CI installs the distribution as it is installed here."""
    name, direct = dist.metadata["Name"], direct_url(dist)
    vcs = direct.get("vcs_info", {})
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return f"{name} @ git+{direct['url']}@{vcs['commit_id']}"
    return f"{name}=={dist.version}"


def require(leaderboards: Path, name: str) -> str | None:
    """Add the outside distribution ``name`` to ``leaderboards/requirements.txt``; the line added, or None when
    it ships with this repository (or is curbench itself) or is listed already."""
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return None
    if name == "curbench" or installed_from(dist, leaderboards.resolve().parent):
        return None
    path = leaderboards / REQUIREMENTS_FILE
    text = path.read_text() if path.is_file() else HEADER
    listed = {line.split("==")[0].split(" @ ")[0].strip().lower() for line in text.splitlines() if line and not line.startswith("#")}
    if name.lower() in listed:
        return None
    line = requirement_line(dist)
    atomic.write_text(path, text + ("" if text.endswith("\n") else "\n") + line + "\n")
    return line
