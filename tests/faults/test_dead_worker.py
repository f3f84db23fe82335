"""Faults: a worker process killed by the OS (e.g. for memory) fails its own cell only; the others go on (issue #24)."""

from __future__ import annotations

import pytest
from faults.children import doubled_unless_fatal

from curbench.bench.executors import LocalExecutor

pytestmark = pytest.mark.slow


def test_a_dead_worker_fails_only_its_own_item():
    items = ["a", "b", "die", "c", "d", "e"]
    outcomes = {outcome.item: outcome for outcome in LocalExecutor(workers=2).map(doubled_unless_fatal, items)}
    assert sorted(outcomes) == sorted(items)  # every item has an outcome, each once
    for item in ("a", "b", "c", "d", "e"):
        assert outcomes[item].error is None and outcomes[item].result == item * 2, outcomes[item]
    dead = outcomes["die"]
    assert dead.result is None
    assert "worker process was killed by SIGKILL" in dead.error and "out-of-memory" in dead.error
    assert "\n" not in dead.error
