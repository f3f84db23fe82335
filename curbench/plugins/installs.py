"""Where an installed plugin distribution's code comes from (PEP 610's ``direct_url.json``), and the version that
names its cells: for an editable install, the version its source tree declares now, not the one pip recorded."""

from __future__ import annotations

import json
import sys
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from curbench.progress import warn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def direct_url(dist: Distribution) -> dict[str, Any]:
    """The distribution's ``direct_url.json`` (empty for an install from an index)."""
    text = dist.read_text("direct_url.json")
    found: dict[str, Any] = json.loads(text) if text else {}
    return found


def source_folder(dist: Distribution) -> Path | None:
    """The local folder it was installed from, or None (an index or a VCS URL)."""
    url = direct_url(dist).get("url", "")
    return Path(unquote(urlparse(url).path)) if url.startswith("file://") else None


def declared_version(folder: Path) -> str | None:
    """``[project] version`` of ``folder/pyproject.toml``; None where there is none (or it is dynamic)."""
    try:
        version = tomllib.loads((folder / "pyproject.toml").read_text()).get("project", {}).get("version")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return version if isinstance(version, str) else None


def effective_version(dist: Distribution) -> str:
    """The installed version; for an editable install, the version its source declares now.

    pip records an editable install's version once, so a version bump in the source would otherwise leave the
    plugin's cells named by the old version and their stale results reused until someone reinstalls.
    """
    folder = source_folder(dist) if direct_url(dist).get("dir_info", {}).get("editable") else None
    declared = declared_version(folder) if folder is not None else None
    if declared is None or declared == dist.version:
        return dist.version
    name = dist.metadata["Name"]
    warn(f"{name} is installed in editable mode as {dist.version}, but {folder}/pyproject.toml now says {declared}; "
         f"its cells use {declared} (reinstall it to refresh the installed metadata)", key=f"editable:{name}")
    return declared
