"""``curbench leaderboard --check``: the committed tables must be exactly what the committed records generate.

Also checked: every record sits under its own cell id, holds finite numbers, and names plugin
versions that are installed here (else its numbers cannot be reproduced with this install).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from curbench import atomic
from curbench.bench.cells import cell_key
from curbench.bench.records import ResultRecord, cell_id
from curbench.bench.suites import Suite, load_suite, missing_cells
from curbench.boards.render import (
    PAGE_FILE,
    README_TRACK,
    readme_section,
    render_track,
    with_readme_section,
    write_board,
)
from curbench.boards.rows import REACHED_FULL_FID, RECORDS_DIR, STEPS_TO_FULL_FID, group_rows, load_records
from curbench.errors import CurbenchError
from curbench.plugins import Registry
from curbench.plugins.registry import default_registry


def tracks(root: str | Path) -> list[str]:
    """The tracks under ``root``: the sorted names of its folders that hold a ``records/`` folder."""
    return sorted(p.parent.name for p in Path(root).glob(f"*/{RECORDS_DIR}") if p.is_dir())


def track_suite(track: str, configs_dir: str | Path) -> Suite | None:
    """The suite of ``track`` (``<configs_dir>/<track>.yaml``), or None when there is no such file."""
    path = Path(configs_dir) / f"{track}.yaml"
    return load_suite(path) if path.is_file() else None


def record_problems(directory: str | Path, registry: Registry | None = None) -> list[str]:
    """Records that are unreadable or malformed (the schema of :func:`~curbench.bench.records.check_schema`),
    misplaced, edited (id or file name not the hash of their config), whose directions are not those the
    installed metrics declare, or that name plugins not installed at the recorded version."""
    problems = []
    registry = registry or default_registry()
    for path in sorted(Path(directory).glob("*.json")):
        record, problem = _read(path)
        if record is None:
            problems.append(f"{path}: not a valid result record ({problem}); rerun its cell instead of editing it")
            continue
        expected = cell_id(record.config)
        if record.cell_id != expected or path.stem != expected:
            problems.append(f"{path}: cell id {record.cell_id} / file name do not match its config hash {expected}; "
                            "records must not be edited by hand")
        broken = sorted(name for name, value in record.metrics.items()
                        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value))
        if not record.metrics or broken:
            what = f"non-numeric or non-finite metrics ({', '.join(broken)})" if broken else "no metrics"
            problems.append(f"{path}: {what}; rerun the cell instead of editing its record")
        problems += [f"{path}: {problem}" for problem in direction_problems(record, registry)]
        problems += [f"{path}: {problem}" for problem in plugin_problems(record, registry)]
    return problems


CROSS_CELL_METRICS = frozenset({STEPS_TO_FULL_FID, REACHED_FULL_FID})  # derived from another cell's record


def suite_problems(records: Sequence[ResultRecord], suite: Suite, track_dir: Path) -> list[str]:
    """Records that do not belong to the track's suite, and what the suite's grid lacks.

    - *foreign*: a record whose settings differ from a field the suite fixes (another dataset, generator,
      schedule or metric set: a second protocol published into the track). Submitted methods
      (``curbench submit``) differ only in the scorer and its options, which the suite's grid may vary.
    - *missing*: a cell of the suite's grid (with its baselines) without a record, once the track has any and
      unless the suite is ``in_progress`` (which, in turn, is a problem once the grid is complete).
    - *uneven*: a row whose records do not all carry the same metrics (a mean over 4 of 5 seeds); metrics derived
      from another cell (steps to the full-data FID) are left to the *missing* check.
    """
    problems = []
    free = {"scorer", "scorer_options", *suite.varied}
    for record in records:
        for key, value in suite.fixed.items():
            if key in free or key not in record.config:
                continue
            if json.dumps(record.config[key], sort_keys=True, default=str) != json.dumps(value, sort_keys=True, default=str):
                problems.append(f"{track_dir / RECORDS_DIR / (record.cell_id + '.json')}: foreign to suite "
                                f"{suite.path or suite.track}: {key} is {record.config[key]!r}, the suite fixes {value!r}; "
                                "publish it under its own track")
                break
    missing = missing_cells(suite, records) if records else []
    if suite.in_progress and records and not missing:
        problems.append(f"{suite.path or suite.track}: every cell of the grid is recorded, but the suite still says "
                        "in_progress: true; remove that line so the findings grade the track")
    for config in [] if suite.in_progress else missing:
        problems.append(f"{track_dir / RECORDS_DIR}: no record of the suite's cell {cell_key(config)} ({config.scorer}, "
                        f"retention {config.retention:g}, seed {config.seed}); rerun `curbench sweep --config "
                        f"{suite.path or suite.track} --publish` (a sweep published part by part sets in_progress: true "
                        "in its suite until the grid is complete)")
    for row in group_rows(records):
        # Steps to the full-data FID need the same seed's full-data record; one not yet there is reported as missing.
        keys = [set(record.metrics) - CROSS_CELL_METRICS for record in row.records]
        uneven = sorted(keys[0].union(*keys[1:]) - keys[0].intersection(*keys[1:])) if keys else []
        if uneven:
            problems.append(f"{track_dir / RECORDS_DIR}: row {row.label} ({row.config.get('scorer')}, retention "
                            f"{row.config.get('retention')}) has {', '.join(uneven)} in only some of its "
                            f"{len(row.records)} records; rerun those cells")
    return problems


def _read(path: Path) -> tuple[ResultRecord | None, str]:
    """The record at ``path``, or None and why it cannot be one."""
    try:
        return ResultRecord.from_dict(json.loads(path.read_text())), ""
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def unreadable(directory: str | Path) -> list[Path]:
    """The ``*.json`` files in ``directory`` that are not valid result records."""
    return [path for path in sorted(Path(directory).glob("*.json")) if _read(path)[0] is None]


def direction_problems(record: ResultRecord, registry: Registry) -> list[str]:
    """Directions that differ from what the record's metrics declare here (a flipped direction inverts every mark)."""
    from curbench.bench.evaluation import declared_directions

    names = record.config.get("metrics")
    if not isinstance(names, list):
        return [f"its config names no metrics list ({names!r})"]
    try:
        declared = declared_directions(registry, names)
    except CurbenchError:
        return []  # a metric not installed (or conflicting): plugin_problems names it
    wrong = [key for key, higher in record.directions.items() if key in declared and declared[key] is not higher]
    unknown = [key for key in record.metrics if key not in declared]
    problems = [f"direction of '{key}' is {record.directions[key]} but its metric declares {declared[key]}; records "
                "must not be edited by hand" for key in wrong]
    if unknown:
        problems.append(f"metric key(s) {', '.join(unknown)} are declared by none of its metrics "
                        f"({', '.join(map(str, names))})")
    return problems


def plugin_problems(record: ResultRecord, registry: Registry) -> list[str]:
    """The record's plugins that are missing here or installed at another version."""
    problems = []
    for component, recorded in record.config.get("plugins", {}).items():
        kind, _, name = component.partition(":")
        try:
            installed = registry.get(kind, name).identity()
        except CurbenchError:
            problems.append(f"{component} from {recorded.get('distribution', 'curbench')} is not installed; "
                            f"pip install {recorded.get('distribution', 'it')}=={recorded.get('version', '')} (CI installs "
                            "the plugins listed in leaderboards/requirements.txt)")
            continue
        if installed != recorded:
            problems.append(f"{component} was recorded as {recorded} but is installed as {installed}; install the "
                            "recorded version, or rerun the track's sweep with --publish")
    return problems

def generated_files(root: str | Path, track: str, configs_dir: str | Path = "configs") -> dict[Path, str]:
    """The track's generated files as its records render them, path -> text (what ``--check`` compares)."""
    directory = Path(root) / track
    records = load_records(directory / RECORDS_DIR)
    files = render_track(track, records, track_suite(track, configs_dir))
    return {directory / name: text for name, text in files.items()}


def write_track(root: str | Path, track: str, configs_dir: str | Path = "configs") -> list[Path]:
    """Regenerate a track's tables and curves from its records."""
    records = load_records(Path(root) / track / RECORDS_DIR)
    return write_board(Path(root) / track, track, records, track_suite(track, configs_dir))


def update_readme(readme: str | Path, root: str | Path, track: str = README_TRACK) -> bool:
    """Rewrite the README region of ``track``; False when the README has no markers for it."""
    path = Path(readme)
    if not path.is_file():
        return False
    section = readme_section(track, load_records(Path(root) / track / RECORDS_DIR))
    updated = with_readme_section(path.read_text(), track, section)
    if updated is None:
        return False
    if updated != path.read_text():
        atomic.write_text(path, updated)
    return True


def _first_difference(expected: str, actual: str) -> str:
    for line, (want, have) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if want != have:
            return f"line {line}: expected {want[:80]!r}, committed {have[:80]!r}"
    return f"expected {len(expected.splitlines())} lines, committed {len(actual.splitlines())}"


def check(root: str | Path, selected: Sequence[str], configs_dir: str | Path = "configs", readme: str | Path | None = None) -> list[str]:
    """One line per committed file that differs from what the records generate (empty: all up to date).

    A check that would compare nothing is a difference too: no tracks, or a CPU suite whose track has no records.
    """
    if not selected:
        return [f"{root}: no leaderboard tracks (no <track>/{RECORDS_DIR}/ folders); run from the repository root "
                "or pass --root"]
    differences = []
    for suite_path in sorted(Path(configs_dir).glob("*.yaml")):
        suite = load_suite(suite_path)
        page = Path(root) / suite.track / PAGE_FILE
        if (Path(root) / suite.track / RECORDS_DIR).is_dir() or not page.is_file() or suite.gpu:
            continue
        differences.append(f"{Path(root) / suite.track / RECORDS_DIR}: missing, but {page} exists; restore the "
                           f"records or rerun `curbench sweep --config {suite_path} --publish`")
    for track in selected:
        differences += record_problems(Path(root) / track / RECORDS_DIR)
        if unreadable(Path(root) / track / RECORDS_DIR):
            continue  # named above; its tables cannot be generated from records that cannot be read
        declared = track_suite(track, configs_dir)
        if declared is not None:
            differences += suite_problems(load_records(Path(root) / track / RECORDS_DIR), declared, Path(root) / track)
        for path, text in generated_files(root, track, configs_dir).items():
            if not path.is_file():
                differences.append(f"{path}: missing; run `curbench leaderboard --track {track}` and commit it")
            elif path.read_text() != text:
                differences.append(f"{path}: differs from its records ({_first_difference(text, path.read_text())}); "
                                   f"run `curbench leaderboard --track {track}`")
    if (readme is not None and README_TRACK in selected and Path(readme).is_file()
            and not unreadable(Path(root) / README_TRACK / RECORDS_DIR)):
        text = Path(readme).read_text()
        section = readme_section(README_TRACK, load_records(Path(root) / README_TRACK / RECORDS_DIR))
        updated = with_readme_section(text, README_TRACK, section)
        if updated is not None and updated != text:
            differences.append(f"{readme}: the {README_TRACK} leaderboard region differs from the records "
                               f"({_first_difference(updated, text)}); run `curbench leaderboard`")
    return differences


# ---------------------------------------------------------------- drift
