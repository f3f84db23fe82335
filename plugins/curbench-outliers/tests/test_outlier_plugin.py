"""The separately installed curbench-outliers distribution: discovery, laziness, agreement with scikit-learn, broken plugins."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points, version

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from curbench.errors import InvalidInputError, PluginError
from curbench.plugins import load_registry


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    inliers = rng.normal(size=(300, 4))
    return inliers, np.vstack([rng.normal(size=(9, 4)), [[8.0, 8.0, 8.0, 8.0]]])


def test_installed_and_discovered_with_distribution_and_version():
    assert "outliers" in {ep.name for ep in entry_points(group="curbench")}, (
        "install the plugin: pip install -e plugins/curbench-outliers"
    )
    registry = load_registry()
    for name in ("isolation-forest", "lof"):
        record = registry.get("scorer", name)
        assert (record.distribution, record.version, record.plugin) == ("curbench-outliers", version("curbench-outliers"), "outliers")


def test_discovery_does_not_import_scikit_learn():
    code = (
        "import sys; from importlib.metadata import entry_points; from curbench.plugins import load_registry; "
        "r = load_registry([e for e in entry_points(group='curbench') if e.name == 'outliers']); r.get('scorer', 'lof'); "
        "print(sorted(m for m in sys.modules if m.startswith(('sklearn', 'curbench_outliers'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['curbench_outliers', 'curbench_outliers.plugin']"


def test_isolation_forest_equals_sklearn(data):
    train, new = data
    scorer = load_registry().create("scorer", "isolation-forest", {"n_estimators": 50}, seed=3).fit(train)
    reference = IsolationForest(n_estimators=50, random_state=3).fit(train)
    np.testing.assert_array_equal(scorer.score(train), reference.score_samples(train))
    scores = scorer.score(new)
    np.testing.assert_array_equal(scores, reference.score_samples(new))
    assert scores.dtype == np.float64 and np.argmin(scores) == 9  # the far point is the least normal


def test_lof_equals_sklearn_on_fitted_set_and_new_points(data):
    train, new = data
    scorer = load_registry().create("scorer", "lof", {"n_neighbors": 10}).fit(train)
    np.testing.assert_allclose(
        scorer.score(train), LocalOutlierFactor(n_neighbors=10).fit(train).negative_outlier_factor_, rtol=1e-12
    )
    novelty = LocalOutlierFactor(n_neighbors=10, novelty=True).fit(train)
    scores = scorer.score(new)
    np.testing.assert_allclose(scores, novelty.score_samples(new), rtol=1e-12)
    assert np.argmin(scores) == 9


def test_plugin_scorers_validate_like_builtins(data):
    train, _ = data
    registry = load_registry()
    with pytest.raises(PluginError, match="unknown option 'trees' for scorer 'isolation-forest'; valid options: n_estimators, seed"):
        registry.create("scorer", "isolation-forest", {"trees": 5})
    with pytest.raises(InvalidInputError, match="fitted on 4-d features but got 3-d"):
        registry.create("scorer", "lof").fit(train).score(train[:, :3])
    with pytest.raises(InvalidInputError, match="n_neighbors must be a positive integer"):
        registry.create("scorer", "lof", {"n_neighbors": 0})
    tiny = registry.create("scorer", "lof").fit(train[:3])  # n_neighbors capped at N - 1
    np.testing.assert_allclose(tiny.score(train[:3]), LocalOutlierFactor(n_neighbors=2).fit(train[:3]).negative_outlier_factor_)


class _FailingEntryPoint(EntryPoint):
    def load(self):
        raise ImportError("simulated: a dependency of this plugin is missing")


def test_a_broken_plugin_is_listed_and_the_others_still_work(data):
    train, _ = data
    installed = [ep for ep in entry_points(group="curbench") if ep.name in ("builtins", "outliers")]
    broken = _FailingEntryPoint(name="svm-outliers", value="curbench_svm_outliers.plugin", group="curbench")
    registry = load_registry([*installed, broken])
    assert [(b.plugin, b.error) for b in registry.broken] == [
        ("svm-outliers", "ImportError: simulated: a dependency of this plugin is missing")
    ]
    assert registry.create("scorer", "isolation-forest", {"n_estimators": 5}).fit(train).score(train).shape == (300,)
    assert registry.create("scorer", "gaussian").fit(train).score(train).shape == (300,)
    with pytest.raises(PluginError, match=r"unknown scorer 'one-class-svm'; available: .*failed to load: svm-outliers"):
        registry.get("scorer", "one-class-svm")
    with pytest.raises(PluginError, match=r"did you mean 'isolation-forest'\?.*failed to load: svm-outliers"):
        registry.get("scorer", "isolation-forrest")


def test_when_the_outlier_plugin_itself_is_broken_its_names_fail_clearly():
    builtins = [ep for ep in entry_points(group="curbench") if ep.name == "builtins"]
    broken = _FailingEntryPoint(name="outliers", value="curbench_outliers.plugin", group="curbench")
    registry = load_registry([*builtins, broken])
    assert [b.plugin for b in registry.broken] == ["outliers"]
    assert "lof" not in registry.names("scorer") and "gaussian" in registry.names("scorer")
    with pytest.raises(PluginError, match=r"unknown scorer 'lof'.*plugins that failed to load: outliers"):
        registry.get("scorer", "lof")
    with pytest.raises(PluginError, match=r"did you mean 'gaussian'"):
        registry.get("scorer", "gausian")
