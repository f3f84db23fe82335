"""Shared fixtures: every test gets its own cache directory and no progress bars."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("curbench-cache")
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("CURBENCH_QUIET", "1")
    monkeypatch.delenv("CURBENCH_WARNED", raising=False)  # warnings given in one test must not silence another's
    return cache
