"""Leaderboards: records -> rows -> rendered tracks, checked against the committed files and rerun for drift.

``rows`` pools seeds and pairs each row with its baseline; ``render`` writes pages,
tables and plots; ``check`` compares them with what is committed; ``drift`` reruns cells.
"""

from curbench.boards.check import (
    check,
    generated_files,
    record_problems,
    track_suite,
    tracks,
    update_readme,
    write_track,
)
from curbench.boards.drift import DRIFT_SIGMAS, compare_drift, drift, drift_tolerances
from curbench.boards.render import (
    AUDIT_FILE,
    CURVES_DIR,
    PAGE_FILE,
    README_TRACK,
    TABLE_FILE,
    readme_section,
    render_track,
    results_frames,
    results_markdown,
    with_readme_section,
    write_board,
)
from curbench.boards.rows import (
    RECORDS_DIR,
    STEPS_TO_FULL_FID,
    Row,
    generator_rows,
    group_rows,
    load_records,
    with_steps_to_full_fid,
)

__all__ = [
    "AUDIT_FILE",
    "CURVES_DIR",
    "DRIFT_SIGMAS",
    "PAGE_FILE",
    "README_TRACK",
    "RECORDS_DIR",
    "STEPS_TO_FULL_FID",
    "TABLE_FILE",
    "Row",
    "check",
    "compare_drift",
    "drift",
    "drift_tolerances",
    "generated_files",
    "generator_rows",
    "group_rows",
    "load_records",
    "readme_section",
    "record_problems",
    "render_track",
    "results_frames",
    "results_markdown",
    "track_suite",
    "tracks",
    "update_readme",
    "with_readme_section",
    "with_steps_to_full_fid",
    "write_board",
    "write_track",
]
