"""Plugins are untrusted too (issue #24): the names they register and the metric keys they declare become file
names and table columns, so they must be safe identifiers, and no plugin metric may take another's output key."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
from test_untrusted_yaml import assert_refused

from curbench import hookimpl
from curbench.bench.evaluation import MetricSet, declared_directions
from curbench.errors import PluginError
from curbench.plugins import load_registry

BUILTINS = EntryPoint(name="builtins", value="curbench.builtins", group="curbench")


@pytest.fixture
def plugin_module():
    """``make(name, hook=function, ...)``: a module of hook implementations, importable while the test runs."""
    created = []

    def make(name: str, **hooks) -> None:
        module = types.ModuleType(name)
        for hook_name, function in hooks.items():
            setattr(module, hook_name, hookimpl(function))
        sys.modules[name] = module
        created.append(name)

    yield make
    for name in created:
        sys.modules.pop(name, None)


class _Metric:
    def __call__(self, real, fake):
        return {"fid": 0.0}


class _Scorer:
    def fit(self, features, labels=None):
        return self

    def score(self, features):
        return -features.sum(axis=1)


@pytest.mark.parametrize(
    ("hook", "register", "fragment"),
    [
        ("curbench_register_scorers", lambda register: register("../../escaped", _Scorer), "a scorer name must be letters"),
        ("curbench_register_scorers", lambda register: register("a/b", _Scorer), "got 'a/b'"),
        ("curbench_register_scorers", lambda register: register(".hidden", _Scorer), "got '.hidden'"),
        ("curbench_register_metrics", lambda register: register("m", _Metric, higher_is_better={"../../x": False}), "'../../x'"),
        ("curbench_register_metrics", lambda register: register("m", _Metric, higher_is_better={"n_real": False}), "'n_real'"),
    ],
)
def test_unsafe_names_and_keys_make_the_plugin_broken(plugin_module, hook, register, fragment):
    plugin_module("unsafe_plugin", **{hook: register})
    registry = load_registry([BUILTINS, EntryPoint(name="unsafe", value="unsafe_plugin", group="curbench")])
    (broken,) = registry.broken
    assert broken.plugin == "unsafe" and fragment in broken.error
    assert "knn" in registry.names("scorer")  # the others still load


def test_a_plugin_metric_declaring_fid_is_refused_naming_both(plugin_module):
    plugin_module(
        "fid_thief", curbench_register_metrics=lambda register: register("thief", _Metric, higher_is_better={"fid": True})
    )
    registry = load_registry([BUILTINS, EntryPoint(name="thief", value="fid_thief", group="curbench")])
    for build in (lambda: MetricSet.build(registry, ["fid", "thief"], k=5, tie="lt"),
                  lambda: declared_directions(registry, ["kid", "fid", "thief"])):
        with pytest.raises(PluginError) as info:
            build()
        message = str(info.value)
        assert "metric 'fid' from" in message and "metric 'thief' from" in message and "output key 'fid'" in message
    assert declared_directions(registry, ["thief"])["fid"] is True  # alone, it is its own key


def _install(site: Path, name: str, source: str) -> None:
    """A distribution ``name`` (version 1.0) on ``site`` whose module of the same name is a curbench plugin."""
    module = name.replace("-", "_")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[curbench]\n{module} = {module}\n")


@pytest.fixture
def hostile_site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "fid-thief", """
        from curbench import hookimpl

        class Thief:
            def __call__(self, real, fake):
                return {"fid": -1.0}

        @hookimpl
        def curbench_register_metrics(register):
            register("thief", Thief, "declares the built-in FID's key", higher_is_better={"fid": True})
    """)
    _install(site, "escaper", """
        from curbench import hookimpl

        class Escaper:
            def fit(self, features, labels=None):
                return self

            def score(self, features):
                return features[:, 0]

        @hookimpl
        def curbench_register_scorers(register):
            register("../../escaped", Escaper, "a name that is a path")
    """)
    return site


def _curbench(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "curbench", *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd)


def test_through_the_cli_a_stolen_key_fails_in_one_line(hostile_site, tmp_path):
    features = tmp_path / "f.npy"
    np.save(features, np.random.default_rng(0).standard_normal((40, 4)))
    result = _curbench(hostile_site, "metrics", str(features), str(features), "--metric", "fid", "--metric", "thief")
    assert_refused(result, "metric 'fid' from curbench", "metric 'thief' from fid-thief 1.0", "output key 'fid'")
    assert "fid:" not in result.stdout
    out = tmp_path / "out"
    result = _curbench(hostile_site, "run", "--dataset", "toy", "--dataset-option", "n=200", "--metric", "fid",
                       "--metric", "thief", "--output-dir", str(out), "--quiet")
    assert_refused(result, "both declare output key 'fid'")
    assert not (out / "cells").exists()


def test_through_the_cli_a_scorer_named_like_a_path_is_broken_and_writes_nothing(hostile_site, tmp_path):
    listing = _curbench(hostile_site, "plugins")
    assert listing.returncode == 0, listing.stderr
    (line,) = [line for line in listing.stdout.splitlines() if line.startswith("BROKEN") and "escaper" in line]
    assert "'../../escaped'" in line and "letters, digits" in line
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    result = _curbench(hostile_site, "show", "--scorer", "../../escaped", "--out-dir", "out", cwd=work)
    assert_refused(result, "unknown scorer '../../escaped'")
    assert [p for p in tmp_path.rglob("*.png")] == []
