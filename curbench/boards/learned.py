"""Has the generator learned its data? Each full-data generator against the real-data ceiling of its cells.

A board compares curation methods through generators; if the full-data generator has collapsed or
never fit the data, every comparison on the board measures that failure instead. The floors are
fractions of what real data of the same sample count score against the same reference, so they carry
over between feature spaces:

* precision (the share of samples inside the data's k-NN balls) at least 80% of the real data's: below
  it, more than a fifth of the samples look like no data, e.g. shapes between classes;
* recall (the share of the data's neighbourhoods the samples reach) at least 40% of the real data's:
  below it, the generator has dropped most of the data's variety (mode collapse).

Measured on the committed tracks (docs/studies.md): the small generators of
`digits-capacity` fail on recall by design (6% and 24%); the unconditional `digits-minority` DCGAN at
5000 steps (precision 79%) and the `glyphs` DCGAN at 2500 steps (78%) failed, which is why those
tracks train 12000 and 4000 steps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from curbench.bench.cells import Role
from curbench.boards.rows import Row
from curbench.boards.tables import show_value
from curbench.boards.verdicts import row_mean, summary

FLOORS = {"precision": 0.8, "recall": 0.4}  # metric -> the fraction of the real-data value it must reach
SHOWN_METRICS = (*FLOORS, "coverage")  # coverage for context
NOT_LEARNED = "not graded: generator did not learn its data"


@dataclass(frozen=True)
class GeneratorCheck:
    """A full-data generator row, its real-data ceiling row, and whether it reaches the floor."""

    full: Row
    ceiling: Row

    @property
    def generator(self) -> str:
        """The generator and its options, e.g. ``dcgan steps=2500, width=32``."""
        options = self.full.config.get("generator_options") or {}
        shown = ", ".join(f"{key}={json.dumps(value)}" for key, value in sorted(options.items()))
        return f"{self.full.config['generator']}" + (f" {shown}" if shown else "")

    @property
    def parameters(self) -> int:
        """The generator's parameter count (0 when its records do not say)."""
        return self.full.generator_parameters

    def fraction(self, metric: str) -> float:
        """The full-data mean of ``metric`` over the ceiling's mean (NaN when either is missing)."""
        return row_mean(self.full, metric) / row_mean(self.ceiling, metric)

    @property
    def short_of(self) -> list[str]:
        """The checked metrics below the floor; a metric the records lack counts as short (nothing shows it learned)."""
        return [metric for metric, floor in FLOORS.items() if not self.fraction(metric) >= floor]

    @property
    def learned(self) -> bool:
        """Whether every checked metric reaches its :data:`FLOORS` fraction of the ceiling."""
        return not self.short_of

    @property
    def reason(self) -> str:
        """Why the generator fails the check, in numbers (empty when it passes)."""
        return "; ".join(f"{metric} {row_mean(self.full, metric):.3g} vs {row_mean(self.ceiling, metric):.3g}"
                         f" for real data ({self.fraction(metric):.0%})" for metric in self.short_of)


def ceilings(rows: Sequence[Row]) -> dict[str, Row]:
    """The real-data ceiling rows, keyed by the full-data generator row each was derived from."""
    return {row.source_key: row for row in rows if row.role is Role.REAL}


def collapsed_seeds(row: Row, ceiling: Row | None) -> tuple[int, int]:
    """(seeds below the recall floor, seeds with a recall): the :data:`FLOORS` recall check applied to each seed.

    A mean over collapsed and healthy seeds reports the collapse rate more than the curation method, so the
    capacity table and the capacity and dose-response findings show this count beside the mean. (0, 0) without
    a ceiling."""
    floor = FLOORS["recall"] * row_mean(ceiling, "recall") if ceiling is not None else math.nan
    if not math.isfinite(floor):
        return 0, 0
    recalls = [value for value in row.metric_values("recall") if math.isfinite(value)]
    return sum(value < floor for value in recalls), len(recalls)


def generator_checks(rows: Sequence[Row]) -> list[GeneratorCheck]:
    """One check per full-data generator row that has a real-data ceiling, smallest generator first."""
    ceilings_of = ceilings(rows)
    checks = [GeneratorCheck(row, ceilings_of[row.key]) for row in rows if row.role is Role.FULL and row.key in ceilings_of]
    return sorted(checks, key=lambda check: check.parameters)


def main_check(rows: Sequence[Row]) -> GeneratorCheck | None:
    """The check of the track's largest full-data generator: the one every claim's baseline rests on.

    A capacity track's smaller generators may fail the floor by design (that is what it studies); its largest
    may not."""
    checks = generator_checks(rows)
    return checks[-1] if checks else None


def _distinguishing(checks: Sequence[GeneratorCheck]) -> list[str]:
    """Config fields other than the generator's that differ between the checked rows (e.g. the embedder)."""
    fields = dict.fromkeys(field for check in checks for field in check.full.config)
    return [field for field in fields if field not in ("generator", "generator_options")
            and len({json.dumps(check.full.config.get(field), sort_keys=True) for check in checks}) > 1]


def checks_frame(checks: Sequence[GeneratorCheck]) -> pd.DataFrame:
    """The board's table: per generator, each shown metric as full data vs the ceiling, and the outcome."""
    fields = _distinguishing(checks)
    return pd.DataFrame([{
        "generator": check.generator + "".join(f" · {field} {show_value(check.full.config.get(field))}" for field in fields),
        "generator parameters": check.parameters or "—",
        "seeds": len(check.full.records),
        **{f"{metric}: full data / real data": f"{summary(check.full.metric_values(metric))} / "
                                               f"{summary(check.ceiling.metric_values(metric))} "
                                               f"({check.fraction(metric):.0%})" for metric in SHOWN_METRICS},
        "learned its data": "yes" if check.learned else "**no** (" + ", ".join(
            f"{metric} below {FLOORS[metric]:.0%} of real data" for metric in check.short_of) + ")",
    } for check in checks])


RULE = (f"A full-data generator has learned its data when its precision reaches {FLOORS['precision']:.0%} and its "
        f"recall {FLOORS['recall']:.0%} of what real data of the same sample count score against the same reference "
        "(coverage is shown for context): below the first, more than a fifth of its samples look like no data; below "
        "the second, it has dropped most of the data's variety.")
