"""Everything generated from the committed records, written or checked in one place.

``curbench leaderboard`` and ``curbench submit`` both end here, so a submission leaves exactly the tree
that ``leaderboard --check`` (and CI) compares: each track's tables, the README's digits region, the
findings page and the static site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from curbench.boards import findings, site
from curbench.boards.check import check, unreadable, update_readme, write_track
from curbench.boards.render import README_TRACK
from curbench.boards.rows import RECORDS_DIR


@dataclass(frozen=True)
class Outputs:
    """Where the generated files live: the tracks under ``root``, the suites, the README, the findings page
    and the site (by default ``docs/`` and ``docs/site/`` beside ``root``)."""

    root: Path
    configs: Path = Path("configs")
    readme: Path = Path("README.md")
    findings: Path | None = None
    site: Path | None = None

    @property
    def findings_dir(self) -> Path:
        """``findings``, or ``docs/`` beside ``root`` when unset."""
        return self.findings or self.root.parent / "docs"

    @property
    def site_dir(self) -> Path:
        """``site``, or ``site/`` inside :attr:`findings_dir` when unset."""
        return self.site or self.findings_dir / "site"


def write_all(outputs: Outputs, tracks: Sequence[str]) -> list[str]:
    """Regenerate the ``tracks``' tables and everything that reads every track; one line per thing written."""
    lines = [f"{name}: wrote {len(write_track(outputs.root, name, outputs.configs))} files" for name in tracks]
    if README_TRACK in tracks and update_readme(outputs.readme, outputs.root):
        lines.append(f"{outputs.readme}: updated the {README_TRACK} leaderboard region")
    lines += [f"{path}: written" for path in findings.write(outputs.root, outputs.findings_dir, outputs.configs)]
    written = site.write(outputs.root, outputs.site_dir, outputs.configs)
    lines.append(f"{outputs.site_dir}: wrote the HTML site ({len(written)} files)")
    return lines


def differences(outputs: Outputs, tracks: Sequence[str], every_track: Sequence[str]) -> list[str]:
    """What differs from the records: the ``tracks``' tables and README region, then (when every track's
    records can be read) the findings page and the site."""
    lines = check(outputs.root, tracks, outputs.configs, outputs.readme)
    if any(unreadable(outputs.root / name / RECORDS_DIR) for name in every_track):
        return lines  # the findings and the site read every track's records: the unreadable ones are named above
    return lines + findings.check(outputs.root, outputs.findings_dir, outputs.configs) + site.check(outputs.root, outputs.site_dir, outputs.configs)
