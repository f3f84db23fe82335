"""The shared training loop: determinism, hook reports, checkpoints and exact resumption after a kill."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curbench.datasets.base import Dataset
from curbench.errors import CurbenchError
from curbench.generators.lifecycle import TrainingHooks
from curbench.generators.mlp import MLPGAN
from curbench.generators.train import CHECKPOINT_FILE, batch_indices


class Killed(Exception):
    pass


class Recorder(TrainingHooks):
    """Records every report; raises at ``kill_at`` (a discriminator step) to simulate a killed process."""

    def __init__(self, kill_at: int | None = None) -> None:
        super().__init__()
        self.kill_at = kill_at
        self.starts, self.ends, self.steps = [], [], []

    def start(self, run):
        self.starts.append(run)

    def step(self, run, step):
        self.steps.append(step)
        if step.step == self.kill_at:
            raise Killed

    def end(self, run):
        self.ends.append(run)


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    return Dataset("blobs", rng.normal(size=(300, 2)).astype(np.float32), labels=rng.integers(0, 3, 300))


def small_gan(**options) -> MLPGAN:
    return MLPGAN(**{"steps": 12, "batch_size": 32, "hidden": 16, "layers": 2, "checkpoint_every": 4, **options})


def weights(generator: MLPGAN) -> dict[str, torch.Tensor]:
    state = generator.state()
    return {f"{part}.{k}": v for part in ("generator", "discriminator", "ema") for k, v in state[part].items()}


def assert_same_weights(a: MLPGAN, b: MLPGAN) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def test_same_seed_gives_bit_identical_weights_and_other_seeds_do_not(points):
    first, second = small_gan().fit(points, seed=7), small_gan().fit(points, seed=7)
    assert_same_weights(first, second)
    other = small_gan().fit(points, seed=8)
    assert not torch.equal(weights(first)["generator.body.0.weight"], weights(other)["generator.body.0.weight"])


def test_hooks_see_every_optimiser_step(points):
    recorder = Recorder()
    generator = small_gan().fit(points, seed=0, hooks=recorder)
    assert len(recorder.starts) == len(recorder.ends) == 1
    run = recorder.starts[0]
    assert run.total_steps == 12 and run.generator is generator.generator_net
    np.testing.assert_array_equal(run.train_indices, np.arange(len(points)))
    phases = [(s.step, s.phase) for s in recorder.steps]
    assert phases == [(i, p) for i in range(12) for p in ("discriminator", "generator")]
    for report in recorder.steps:
        assert report.latents.shape == (32, generator.latent_dim)
        assert np.isfinite(list(report.losses.values())).all()
        if report.phase == "discriminator":
            assert report.batch_indices.shape == (32,)
            # The reported labels are those of the reported instances.
            np.testing.assert_array_equal(report.labels, points.labels[report.batch_indices])
        assert set(np.unique(report.fake_labels)) <= {0, 1, 2}


def test_hinge_losses_match_their_definition(points):
    """The reported D loss is the hinge loss of a real/fake batch recomputed from the reported inputs at step 0."""
    recorder = Recorder()
    generator = small_gan(steps=1, ema=0.0)
    initial = small_gan(steps=1, ema=0.0)
    initial.spec = initial._spec(points)
    initial._init_networks(seed=3)
    generator.fit(points, seed=3, hooks=recorder)
    d_step = recorder.steps[0]
    classes = torch.from_numpy(np.searchsorted(initial.classes, d_step.labels))
    fake_classes = torch.from_numpy(np.searchsorted(initial.classes, d_step.fake_labels))
    with torch.no_grad():
        real = initial.to_model(torch.from_numpy(points.data[d_step.batch_indices]))
        fake = initial.generator_net(torch.from_numpy(d_step.latents), fake_classes)
        logits = initial.discriminator_net(torch.cat([real, fake]), torch.cat([classes, fake_classes]))
    expected = torch.clamp(1 - logits[:32], min=0).mean() + torch.clamp(1 + logits[32:], min=0).mean()
    assert d_step.losses["d_loss"] == pytest.approx(expected.item(), rel=1e-5)


def test_killed_run_resumes_to_the_same_weights(points, tmp_path):
    uninterrupted = small_gan().fit(points, seed=1, checkpoint_dir=tmp_path / "a")
    with pytest.raises(Killed):
        small_gan().fit(points, seed=1, hooks=Recorder(kill_at=10), checkpoint_dir=tmp_path / "b")
    saved = torch.load(tmp_path / "b" / CHECKPOINT_FILE, weights_only=True)
    assert saved["step"] == 8  # the last multiple of checkpoint_every before the kill
    recorder = Recorder()
    resumed = small_gan().fit(points, seed=1, hooks=recorder, checkpoint_dir=tmp_path / "b")
    assert [s.step for s in recorder.steps[::2]] == [8, 9, 10, 11]
    assert torch.load(tmp_path / "b" / CHECKPOINT_FILE, weights_only=True)["step"] == 12
    assert_same_weights(uninterrupted, resumed)
    # A finished run is reused without training.
    again = Recorder()
    small_gan().fit(points, seed=1, hooks=again, checkpoint_dir=tmp_path / "b")
    assert again.steps == []


def test_resuming_a_different_run_is_refused(points, tmp_path):
    small_gan(steps=4).fit(points, seed=1, checkpoint_dir=tmp_path)
    with pytest.raises(CurbenchError, match="different run"):
        small_gan(steps=4).fit(points, seed=2, checkpoint_dir=tmp_path)


@pytest.mark.parametrize(("n", "batch_size"), [(10, 4), (7, 7), (5, 12)])
def test_batches_walk_through_per_epoch_permutations(n, batch_size):
    steps = 3 * n  # several epochs
    stream = np.concatenate([batch_indices(s, batch_size, n, seed=0) for s in range(steps)])
    for epoch in range(len(stream) // n):
        assert sorted(stream[epoch * n : (epoch + 1) * n]) == list(range(n))


def test_bad_options_are_one_line_errors():
    for options in ({"steps": 0}, {"lr": -1.0}, {"ema": 1.0}, {"batch_size": 2.5}, {"hidden": 0}):
        with pytest.raises(CurbenchError):
            MLPGAN(**options)
