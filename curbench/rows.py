"""A leaderboard row: all seeds of one configuration, shared by the tables, the capacity analysis and the findings."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curbench.records import ResultRecord


@dataclass
class Row:
    """All seeds of one configuration, and the key of the row it is compared against."""

    key: str
    config: dict[str, Any]
    role: str
    records: list[ResultRecord]
    baseline_key: str | None
    source_key: str = ""  # reference rows: the generator row they were derived from

    def values(self, get: Callable[[ResultRecord], Any]) -> list[float]:
        return [number(get(record)) for record in self.records]


def number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
