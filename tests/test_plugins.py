"""The registry: entry-point discovery, lazy factories, conflicts, broken plugins, did-you-mean."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import pytest

from curbench import hookimpl
from curbench.errors import PluginError
from curbench.plugins import load_registry


def _module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    sys.modules[name] = module
    return module


def _entry_point(name: str, module: str) -> EntryPoint:
    return EntryPoint(name=name, value=module, group="curbench")


class _Scorer:
    def __init__(self, alpha: float = 1.0, seed: int = 0):
        self.alpha, self.seed = alpha, seed

    def fit(self, features, labels=None):
        return self

    def score(self, features):
        return -features.sum(axis=1)


class _NoFit:
    """Registered as a scorer, but has no fit(): the contract must refuse it at load."""

    def score(self, features):
        return features[:, 0]


@pytest.fixture
def fake_plugins():
    created = []

    def make(name, **hooks):
        created.append(name)
        return _module(name, **hooks)

    yield make
    for name in created:
        sys.modules.pop(name, None)


def test_builtins_register_through_entry_points_without_importing_models():
    for module in [m for m in sys.modules if m.startswith(("curbench.embedders", "curbench.generators"))]:
        sys.modules.pop(module)
    registry = load_registry()
    assert {"digits", "toy"} <= set(registry.names("dataset"))
    assert {"gaussian", "ppca", "knn", "random"} <= set(registry.names("scorer"))
    record = registry.get("embedder", "inception")
    assert record.distribution == "curbench" and record.plugin == "builtins"
    assert "curbench.embedders.inception" not in sys.modules


def test_unknown_name_suggests_close_matches():
    registry = load_registry()
    with pytest.raises(PluginError, match=r"unknown scorer 'gausian'; did you mean 'gaussian'"):
        registry.get("scorer", "gausian")


class _Recorder(_Scorer):
    """Takes any keyword: what it receives is exactly what curbench passed."""

    def __init__(self, **received):
        self.received = received


def test_lazy_factory_options_and_declared_runtime_options(fake_plugins, monkeypatch, capsys):
    def register_scorers(register):
        register("alpha", f"{__name__}:_Scorer", "demo", runtime_options=["seed"])
        register("silent", f"{__name__}:_Scorer", "takes a seed, declares none")
        register("any", f"{__name__}:_Recorder", "takes anything", runtime_options=("device",))

    fake_plugins("fake_scorers", curbench_register_scorers=register_scorers)
    registry = load_registry([_entry_point("fake", "fake_scorers")])
    scorer = registry.create("scorer", "alpha", {"alpha": 2.5}, seed=7, device="cpu")
    assert (scorer.alpha, scorer.seed) == (2.5, 7) and registry.get("scorer", "alpha").runtime_options == ("seed",)
    assert registry.create("scorer", "alpha", {"seed": 3}, seed=7).seed == 3  # user options win over runtime values
    monkeypatch.delenv("CURBENCH_WARNED", raising=False)
    assert registry.create("scorer", "silent", seed=7).seed == 0  # nothing is inferred from the signature...
    assert ("scorer 'silent' from unknown ? takes seed but does not declare it in runtime_options, so it gets its own "
            "default; add runtime_options=('seed',)") in capsys.readouterr().err  # ...but the author is told
    assert registry.create("scorer", "any", {"alpha": 1}, seed=7, device="cpu").received == {"alpha": 1, "device": "cpu"}
    with pytest.raises(PluginError, match="unknown option 'beta' for scorer 'alpha'; valid options: alpha, seed"):
        registry.create("scorer", "alpha", {"beta": 1})


def test_runtime_options_are_checked_against_the_kind_and_the_factory(fake_plugins):
    fake_plugins("offered", curbench_register_scorers=lambda register: register("s", _Scorer, runtime_options=("weights",)))
    fake_plugins("untaken", curbench_register_scorers=lambda register: register("t", _Scorer, runtime_options=("device",)))
    registry = load_registry([_entry_point(n, n) for n in ("offered", "untaken")])
    broken = {b.plugin: b.error for b in registry.broken}
    assert "scorer 's': runtime_options must be a tuple of names among seed, device" in broken["offered"]
    with pytest.raises(PluginError, match=r"scorer 't' from .* declares runtime_options device that its factory does not take"):
        registry.create("scorer", "t", seed=1, device="cpu")


def test_duplicate_names_are_reported_only_when_used(fake_plugins):
    fake_plugins("dup_a", curbench_register_scorers=lambda register: register("same", _Scorer))
    fake_plugins("dup_b", curbench_register_scorers=lambda register: register("same", _Scorer))
    fake_plugins("other", curbench_register_scorers=lambda register: register("fine", _Scorer))
    registry = load_registry([_entry_point(n, n) for n in ("dup_a", "dup_b", "other")])
    with pytest.raises(PluginError, match="registered by more than one plugin"):
        registry.get("scorer", "same")
    assert isinstance(registry.create("scorer", "fine"), _Scorer)


def test_broken_plugins_break_only_their_own_components(fake_plugins):
    def raising_hook(register):
        raise RuntimeError("boom")

    fake_plugins("raises", curbench_register_scorers=raising_hook)
    fake_plugins("bad_factory", curbench_register_scorers=lambda register: register("ghost", "no_such_module:Thing"))
    fake_plugins("good", curbench_register_scorers=lambda register: register("fine", _Scorer))
    entry_points = [_entry_point(n, n) for n in ("raises", "bad_factory", "good")]
    entry_points.append(_entry_point("missing", "definitely_not_installed_module"))
    registry = load_registry(entry_points)
    broken = {b.plugin: b.error for b in registry.broken}
    assert "boom" in broken["raises"] and "ModuleNotFoundError" in broken["missing"]
    assert isinstance(registry.create("scorer", "fine"), _Scorer)
    with pytest.raises(PluginError, match=r"scorer 'ghost' .* failed to load \(ModuleNotFoundError"):
        registry.create("scorer", "ghost")
    with pytest.raises(PluginError, match="plugins that failed to load: .*missing"):
        registry.get("scorer", "nothing-like-it")


def test_a_scorer_without_fit_is_refused_at_load_in_one_line(fake_plugins):
    fake_plugins("nofit", curbench_register_scorers=lambda register: register("lazy", f"{__name__}:_NoFit"))
    registry = load_registry([_entry_point("nofit", "nofit")])
    with pytest.raises(PluginError) as refused:
        registry.get("scorer", "lazy").load()
    message = str(refused.value)
    assert "scorer 'lazy' from unknown ?" in message and "missing fit()" in message and "\n" not in message


def test_a_sample_time_curator_is_held_to_its_own_contract(fake_plugins):
    fake_plugins("curators", curbench_register_scorers=lambda register: register("bad", _Scorer, stage="sample"))
    registry = load_registry([_entry_point("curators", "curators")])
    assert registry.get("scorer", "bad").stage == "sample"
    with pytest.raises(PluginError, match=r"missing curate\(\)"):
        registry.create("scorer", "bad")


def test_a_misspelt_hook_is_reported_and_its_plugin_registers_nothing(fake_plugins):
    def register_both(register):
        register("fine-too", _Scorer)

    fake_plugins("typo", curbench_register_scorer=register_both, curbench_register_datasets=lambda register: None)
    fake_plugins("good", curbench_register_scorers=lambda register: register("fine", _Scorer))
    registry = load_registry([_entry_point("typo", "typo"), _entry_point("good", "good")])
    broken = {b.plugin: b.error for b in registry.broken}
    assert "unknown hook 'curbench_register_scorer' (did you mean 'curbench_register_scorers'?)" in broken["typo"]
    assert registry.names("scorer") == ["fine"]


def test_a_hook_that_raises_part_way_registers_nothing(fake_plugins):
    def half(register):
        register("first", _Scorer)
        raise RuntimeError("second failed")

    fake_plugins("half", curbench_register_scorers=half)
    registry = load_registry([_entry_point("half", "half")])
    assert registry.names("scorer") == [] and "second failed" in registry.broken[0].error


def test_declared_fields_are_typed_per_kind(fake_plugins):
    fake_plugins("typed", curbench_register_metrics=lambda register: register("m", _Scorer, higher_is_better={"m": True}))
    fake_plugins("wrong_field", curbench_register_scorers=lambda register: register("s", _Scorer, higher_is_better={}))
    fake_plugins("undeclared", curbench_register_metrics=lambda register: register("n", _Scorer))
    registry = load_registry([_entry_point(n, n) for n in ("typed", "wrong_field", "undeclared")])
    assert dict(registry.get("metric", "m").higher_is_better) == {"m": True}
    broken = {b.plugin: b.error for b in registry.broken}
    assert "unknown field(s) higher_is_better; a scorer declares code_version, runtime_options, stage, wants_context" in broken["wrong_field"]
    assert "higher_is_better must map each output key" in broken["undeclared"]


def test_unknown_option_names_get_a_did_you_mean(fake_plugins):
    fake_plugins("opts", curbench_register_scorers=lambda register: register("alpha", _Scorer))
    registry = load_registry([_entry_point("opts", "opts")])
    with pytest.raises(PluginError, match=r"unknown option 'alpah' for scorer 'alpha'; did you mean 'alpha'\?"):
        registry.create("scorer", "alpha", {"alpah": 1})


def test_executors_come_from_the_registry():
    from curbench.bench.executors import SerialExecutor, make_executor

    assert isinstance(make_executor("serial"), SerialExecutor)
    with pytest.raises(PluginError, match="unknown executor 'os:system'"):
        make_executor("os:system")


def test_a_metric_registered_without_directions_is_named_as_refused_not_unknown(fake_plugins):
    fake_plugins("no_directions", curbench_register_metrics=lambda register: register("diversity", _Scorer))
    registry = load_registry([_entry_point("no_directions", "no_directions")])
    with pytest.raises(PluginError, match=r"metric 'diversity' from .* could not be registered: .*higher_is_better must"):
        registry.get("metric", "diversity")
    with pytest.raises(PluginError, match="unknown metric 'other'"):
        registry.get("metric", "other")


def test_builtins_keep_their_names_and_every_plugin_is_reachable_by_its_qualified_name(fake_plugins, capsys):
    fake_plugins("shadow", curbench_register_scorers=lambda register: register("knn", _Scorer))
    fake_plugins("lof_a", curbench_register_scorers=lambda register: register("lof2", _Scorer))
    fake_plugins("lof_b", curbench_register_scorers=lambda register: register("lof2", _Scorer))
    from importlib.metadata import entry_points as installed

    entry_points = [ep for ep in installed(group="curbench") if ep.name == "builtins"]  # distribution "curbench"
    entry_points += [_entry_point(n, n) for n in ("shadow", "lof_a", "lof_b")]
    registry = load_registry(entry_points)
    assert registry.get("scorer", "knn").distribution == "curbench"  # the built-in wins the plain name
    assert "the one unknown also registers is 'unknown:knn'" in capsys.readouterr().err
    assert registry.get("scorer", "unknown:knn").factory is _Scorer
    assert registry.get("scorer", "curbench:knn").distribution == "curbench"
    with pytest.raises(PluginError, match=r"more than one plugin .*; name one of them as 'unknown:lof2'"):
        registry.get("scorer", "lof2")
    assert "unknown:knn" in registry.names("scorer") and "knn" in registry.names("scorer")


def test_every_installed_component_declares_the_runtime_values_its_factory_takes():
    """A built-in or bundled plugin that takes a seed but does not declare it would silently run unseeded."""
    from curbench.plugins.options import accepts_option
    from curbench.plugins.records import RUNTIME_VALUES

    registry = load_registry()
    for kind, offered in RUNTIME_VALUES.items():
        for name in registry.names(kind):
            record = registry.get(kind, name)
            taken = {value for value in offered if accepts_option(record.load(), value)}
            assert set(record.runtime_options) == taken, f"{kind} '{name}' from {record.distribution}"


class _SeesReference:
    """Reports whether it was handed the cached reference statistics (1) or the plain real array (0)."""

    key = "saw"

    def __call__(self, real, fake):
        from curbench.metrics.reference import ReferenceStatistics

        return {self.key: float(isinstance(real, ReferenceStatistics))}


class _SeesReferenceToo(_SeesReference):
    key = "saw_too"


def test_a_metric_gets_the_reference_statistics_only_when_it_declares_takes_reference(fake_plugins):
    import numpy as np

    from curbench.bench.evaluation import MetricSet

    def register_metrics(register):
        register("plain", _SeesReference, higher_is_better={"saw": None})
        register("cached", _SeesReferenceToo, higher_is_better={"saw_too": None}, takes_reference=True)

    fake_plugins("ref_metrics", curbench_register_metrics=register_metrics)
    registry = load_registry([_entry_point("ref_metrics", "ref_metrics")])
    real, fake = np.random.default_rng(0).normal(size=(2, 40, 3)).astype(np.float32)
    result = MetricSet.build(registry, ["plain", "cached"], k=3, tie="lt", cache=False)(real, fake, cache=False)
    assert (result["saw"], result["saw_too"]) == (0.0, 1.0)
