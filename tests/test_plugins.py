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


def test_lazy_factory_options_and_defaults(fake_plugins):
    fake_plugins("fake_scorers", curbench_register_scorers=lambda register: register("alpha", f"{__name__}:_Scorer", "demo"))
    registry = load_registry([_entry_point("fake", "fake_scorers")])
    scorer = registry.create("scorer", "alpha", {"alpha": 2.5}, seed=7, device="cpu")
    assert (scorer.alpha, scorer.seed) == (2.5, 7)  # device is not accepted, so it is not passed
    assert registry.create("scorer", "alpha", {"seed": 3}, seed=7).seed == 3  # user options win over defaults
    with pytest.raises(PluginError, match="unknown option 'beta' for scorer 'alpha'; valid options: alpha, seed"):
        registry.create("scorer", "alpha", {"beta": 1})


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
