"""Submitting a method to an existing track: its cells on the track's grid, with the track's records reused.

The committed records are a read-only cache: a cell published there (same id, same config) is adopted, not
rerun, so a submission runs only the method's own cells (and baselines the track lacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curbench.bench import cells
from curbench.bench.executors import LocalExecutor, default_workers
from curbench.bench.records import ResultRecord
from curbench.bench.runner import CellRunner
from curbench.bench.suites import Suite
from curbench.bench.sweep import adopt_published, expand, failure_summary, published_record, run_sweep
from curbench.config import RunConfig


@dataclass(frozen=True)
class Submission:
    """A method's cells on a track's grid, and which of them the track has already published."""

    configs: list[RunConfig]
    published: list[RunConfig]

    @property
    def todo(self) -> list[RunConfig]:
        """The cells without a valid finished record yet (published cells, once adopted, count as finished)."""
        return [config for config in self.configs if not cells.is_finished(config)]

    def new_records(self) -> list[ResultRecord]:
        """The finished cells the track has not published (what a submission adds)."""
        published = {cells.cell_key(config) for config in self.published}
        found = [cells.finished_record(c) for c in self.configs if cells.cell_key(c) not in published]
        return [record for record in found if record is not None]

    def records(self) -> list[ResultRecord]:
        """The finished records of all the submission's cells, published ones included."""
        found = [cells.finished_record(config) for config in self.configs]
        return [record for record in found if record is not None]


def prepare(
    suite: Suite, scorer: str, scorer_options: dict[str, Any], records_dir: Path, runner: CellRunner, **execution: Any
) -> Submission:
    """The scorer's cells on ``suite``'s grid, validated before any runs, with the track's published ones adopted."""
    overrides: dict[str, Any] = {"scorer": [scorer], **({"scorer_options": [scorer_options]} if scorer_options else {})}
    configs = expand(suite, overrides=overrides, **execution)
    for config in configs:
        runner.validate(config)
    runner.check_before_work(configs)
    published = [config for config in configs if published_record(config, [records_dir]) is not None]
    adopt_published(configs, [records_dir])
    return Submission(configs, published)


def run(submission: Submission, workers: int | None = None) -> None:
    """Run the cells still to do in a local process pool; one failure stops the submission with its cause."""
    todo = submission.todo
    if todo:
        result = run_sweep(todo, LocalExecutor(workers=min(len(todo), workers or default_workers())))
        if result.failures:
            raise failure_summary(result.failures)
