"""The ``cinn`` metric against closed-form AUCs, and as an installed curbench plugin."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
from curbench_cinn.metric import CINNSeparation
from scipy.stats import norm

from curbench.errors import InvalidInputError, PluginError
from curbench.plugins import load_registry

FAST = {"steps": 150, "n_components": 4}


@pytest.mark.parametrize("shift", [0.0, 1.5])
def test_specific_auc_is_the_gaussian_closed_form_and_shared_auc_chance(shift):
    rng = np.random.default_rng(1)
    real = rng.standard_normal((400, 4))
    fake = rng.standard_normal((400, 4))
    fake[:, 0] += shift
    result = CINNSeparation(**FAST)(real, fake)
    assert set(result) == {"cinn_specific_auc", "cinn_shared_auc"}
    # Unit Gaussians whose means differ by `shift` along one axis: the optimal AUC is Phi(shift / sqrt 2).
    # 100 held-out per side: the AUC's standard error is ~0.04, so 0.1 is ~2.5 of them.
    assert result["cinn_specific_auc"] == pytest.approx(norm.cdf(shift / np.sqrt(2)), abs=0.1)
    assert result["cinn_shared_auc"] < 0.62


def test_bad_options_fail_when_built_and_bad_arrays_when_called():
    with pytest.raises(InvalidInputError, match="steps"):
        CINNSeparation(steps=0)
    with pytest.raises(InvalidInputError, match="seed"):
        CINNSeparation(seed=-1)
    with pytest.raises(InvalidInputError, match="dimensions"):
        CINNSeparation(**FAST)(np.zeros((50, 3)), np.zeros((50, 4)))


def test_registered_by_the_installed_distribution_with_its_directions():
    record = load_registry().get("metric", "cinn")
    assert (record.distribution, record.version) == ("curbench-cinn", version("curbench-cinn"))
    assert dict(record.higher_is_better) == {"cinn_specific_auc": False, "cinn_shared_auc": False}
    metric = load_registry().create("metric", "cinn", {"steps": 10}, seed=2, device="cpu")
    assert isinstance(metric, CINNSeparation) and metric.settings.steps == 10 and metric.seed == 2
    with pytest.raises(PluginError, match="valid options"):
        load_registry().create("metric", "cinn", {"stpes": 10})


def test_discovery_imports_neither_torch_nor_freia():
    code = (
        "import sys; from importlib.metadata import entry_points; from curbench.plugins import load_registry; "
        "r = load_registry([e for e in entry_points(group='curbench') if e.name == 'cinn']); r.get('metric', 'cinn'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'FrEIA', 'curbench_cinn')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['curbench_cinn', 'curbench_cinn.plugin']"
