"""Generated files (findings page, HTML site): written atomically, and compared for ``--check``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from curbench import atomic


def write_all(files: Mapping[Path, str]) -> list[Path]:
    """Write each file's text atomically; returns the paths."""
    for path, text in files.items():
        atomic.write_text(path, text)
    return list(files)


def differences(files: Mapping[Path, str], command: str) -> list[str]:
    """One line per file that is missing or differs from what it should be, naming the command that fixes it."""
    lines = []
    for path, text in files.items():
        if not path.is_file():
            lines.append(f"{path}: missing; run `{command}` and commit it")
        elif path.read_text() != text:
            lines.append(f"{path}: differs from what the records give; run `{command}`")
    return lines
