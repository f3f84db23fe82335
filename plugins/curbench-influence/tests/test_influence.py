"""The curbench-influence plugin: recording through hooks, exact replay, influence, targets, validation on the toy track."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm
from scipy.stats import spearmanr
from sklearn.neighbors import KernelDensity
from torch import nn

from curbench import hookimpl
from curbench.config import RunConfig
from curbench.datasets.base import Dataset
from curbench.datasets.toy import load_toy
from curbench.errors import CurbenchError
from curbench.generators.lifecycle import TrainingHooks
from curbench.generators.torch_gan import TorchGAN
from curbench.plugins import GeneratorRecord, load_registry
from curbench.scorers.context import ScoringContext

pytest.importorskip("curbench_influence", reason="install plugins/curbench-influence")

from curbench_influence.errors import InfluenceError  # noqa: E402
from curbench_influence.estimator import TargetEvaluator, estimate_influence, record_training  # noqa: E402
from curbench_influence.optim import apply_step, optimizer_spec, read_slots  # noqa: E402
from curbench_influence.recording import DISCRIMINATOR, GENERATOR  # noqa: E402
from curbench_influence.replay import Replayer  # noqa: E402
from curbench_influence.targets import (  # noqa: E402
    FrechetDistance,
    KDELogLikelihood,
    data_space_map,
    embedder_feature_map,
    pixel_features,
)
from curbench_influence.validation import ToySetup, cleansing, fixed_instances, leave_one_out, toy_run  # noqa: E402

LOO_SPEARMAN_THRESHOLD = 0.8
CLEANSING_MARGIN = 0.02  # nats of average log-likelihood over removing k random instances, mean over seeds


@pytest.fixture(autouse=True)
def one_thread(tmp_path, monkeypatch):
    """Tiny networks run fastest on one thread, and the cache must not leak between tests."""
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class PlainGAN(TorchGAN):
    """A GAN without spectral norm, trained by curbench's shared loop: its replay is exactly differentiable."""

    architecture = "plain-test"
    data_kind = "points"

    def __init__(self, steps: int = 12, ema: float = 0.9) -> None:
        super().__init__(steps=steps, batch_size=16, lr=1e-3, latent_dim=4, conditional=False, ema=ema,
                         checkpoint_every=0, device="cpu", amp=False)

    def _spec(self, dataset):
        return {"latent_dim": 4, "classes": None, "class_probs": None}

    def _build(self, spec):
        return _Net(4, 2), _Net(2, 1)

    def to_model(self, data):
        return data.float() / 2 + 0.5

    def from_model(self, output):
        return ((output - 0.5) * 2).numpy()


class _Net(nn.Module):
    def __init__(self, fan_in: int, fan_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(fan_in, 16), nn.Tanh(), nn.Linear(16, fan_out))

    def forward(self, x, y=None):
        out = self.body(x)
        return out.squeeze(1) if out.shape[1] == 1 else out


class TrainingCounter:
    starts = 0

    @hookimpl
    def curbench_train_start(self, run):
        self.starts += 1


class SilentGenerator:
    """A generator that trains without reporting through the hooks."""

    def __init__(self, device: str = "cpu") -> None:
        pass

    def fit(self, dataset, *, seed=0, hooks=None, checkpoint_dir=None):
        return self

    def sample(self, n, *, seed, labels=None, latents=None):
        raise AssertionError("the influence scorer must fail before sampling")


def small_mlp(registry, **options):
    defaults = dict(steps=20, batch_size=16, hidden=16, layers=2, lr=1e-3, device="cpu")
    return registry.create("generator", "mlp", {**defaults, **options})


# --- the plugin and the recording contract ------------------------------------------------------
def test_registered_as_a_separate_distribution(registry):
    record = registry.get("scorer", "influence")
    assert record.distribution == "curbench-influence"
    assert record.factory == "curbench_influence.scorer:InfluenceScorer"  # lazy: nothing imported at discovery
    scorer = record.create({"window": 5}, seed=3, device="cpu")
    assert scorer.options["window"] == 5 and scorer.seed == 3


@pytest.mark.parametrize("conditional, ema", [(False, 0.0), (True, 0.9)])
def test_replay_reproduces_curbench_training(registry, conditional, ema):
    """Replaying the hook recording through the differentiable step functions lands on the trained weights."""
    dataset = load_toy(n=96, seed=1)
    generator = small_mlp(registry, conditional=conditional, ema=ema)
    recording = record_training(generator, dataset, registry.plugin_manager, seed=2)
    assert len(recording.records) == 2 * 20 and recording.records[0].net == DISCRIMINATOR
    assert generator.discriminator_net is not recording.discriminator  # the replay works on private copies
    final = Replayer(recording, dataset.data).retrain()
    trained = generator.sampler_net()
    # The replay's functional Adam and autograd.grad run other float32 kernels than the live step, so it
    # agrees to rounding amplified by 20 Adam steps (up to ~1e-5 on some CPUs), not bit for bit. A step
    # replayed wrongly or not at all moves a weight by about the learning rate, ten times the tolerance.
    learning_rate = 1e-3
    for replayed, live in zip(final, trained.parameters(), strict=True):
        torch.testing.assert_close(replayed, live.detach(), rtol=0, atol=learning_rate / 10)
    moved = max((live.detach() - start).abs().max().item()
                for live, start in zip(trained.parameters(), recording.base[GENERATOR].params, strict=True))
    assert moved > 10 * learning_rate  # training moved the weights far beyond the tolerance
    assert not [p for p in registry.plugin_manager.get_plugins() if type(p).__name__ == "TrainingRecorder"]


def test_replay_reproduces_dcgan_with_batchnorm(registry):
    """Convolutions, BatchNorm (batch statistics) and a conditional projection discriminator replay exactly too."""
    rng = np.random.default_rng(0)
    dataset = Dataset("tiny", rng.integers(0, 256, size=(48, 1, 8, 8), dtype=np.uint8), labels=np.arange(48) % 3)
    generator = registry.create("generator", "dcgan", dict(steps=6, batch_size=8, width=4, latent_dim=8, ema=0.0, device="cpu"))
    recording = record_training(generator, dataset, registry.plugin_manager, seed=0)
    replayer = Replayer(recording, dataset.data)
    final = replayer.retrain()
    # Compare images, not weights: biases just before a BatchNorm get round-off gradients that Adam
    # scales up to full steps, yet BatchNorm removes them from the output.
    latents = torch.randn(32, 8)
    labels = torch.arange(32) % 3
    live = generator.generator_net.train()(latents, labels)
    replayed = replayer.call(GENERATOR, final, replayer.generator_buffers(), latents, labels)
    torch.testing.assert_close(replayed, live, rtol=1e-4, atol=1e-4)


def test_window_bounds_the_recording(registry):
    dataset = load_toy(n=96, seed=1)
    full = record_training(small_mlp(registry), dataset, registry.plugin_manager, seed=0)
    windowed = record_training(small_mlp(registry), dataset, registry.plugin_manager, seed=0, window=5)
    half = record_training(small_mlp(registry), dataset, registry.plugin_manager, seed=0, window=5, dtype=torch.bfloat16)
    assert len(windowed.records) == 10 and {r.step for r in windowed.records} == set(range(15, 20))
    assert windowed.nbytes < full.nbytes / 3  # 10 of 40 steps, plus the base states
    assert half.records[0].after.params[0].dtype == torch.bfloat16 and half.nbytes < 0.6 * windowed.nbytes
    # the base of the window is the state the full recording reached just before it
    before_window = full.records[2 * 15 - 1]
    assert before_window.net == GENERATOR
    torch.testing.assert_close(windowed.base[GENERATOR].params[0], before_window.after.params[0])
    with pytest.raises(InfluenceError, match="whole run"):
        Replayer(windowed, dataset.data).retrain()


def test_windowed_influence_only_counts_recent_batches(registry):
    dataset = load_toy(n=400, seed=1)
    generator = small_mlp(registry, steps=10)
    recording = record_training(generator, dataset, registry.plugin_manager, seed=0, window=3)
    replayer = Replayer(recording, dataset.data)
    target = KDELogLikelihood(dataset.data, 100, feature_map=data_space_map(generator.to_model, dataset.data))
    _, influence = estimate_influence(TargetEvaluator.for_generator(replayer, target, generator, 100, seed=0))
    recent = np.unique(np.concatenate([r.batch_indices for r in recording.records if r.batch_indices is not None]))
    assert np.all(influence[np.setdiff1d(np.arange(400), recent)] == 0) and np.all(influence[recent] != 0)


# --- the estimator against finite differences ------------------------------------------------------
@pytest.mark.parametrize("target_name", ["loglik", "fid"])
def test_influence_equals_finite_differences_of_retraining(registry, target_name):
    """Without spectral norm, the backward pass is the exact derivative of retraining w.r.t. an instance's weight."""
    dataset = load_toy(n=48, seed=0)
    generator = PlainGAN()
    recording = record_training(generator, dataset, registry.plugin_manager, seed=0)
    replayer = Replayer(recording, dataset.data, dtype=torch.float64)
    to_data = data_space_map(generator.to_model, dataset.data)
    target = (KDELogLikelihood(dataset.data, 150, feature_map=to_data) if target_name == "loglik"
              else FrechetDistance(pixel_features(dataset.data), to_data))
    evaluator = TargetEvaluator.for_generator(replayer, target, generator, 150, seed=1)
    _, influence = estimate_influence(evaluator)
    eps = 1e-5
    for j in (0, 5, 11):
        values = []
        for sign in (1, -1):
            weights = np.ones(len(dataset))
            weights[j] += sign * eps
            values.append(float(evaluator.value(replayer.retrain(weights))))
        assert influence[j] == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-4)


def test_damping_shrinks_older_contributions(registry):
    dataset = load_toy(n=48, seed=0)
    generator = PlainGAN(ema=0.0)
    recording = record_training(generator, dataset, registry.plugin_manager, seed=0)
    replayer = Replayer(recording, dataset.data, dtype=torch.float64)
    target = KDELogLikelihood(dataset.data, 100, feature_map=data_space_map(generator.to_model, dataset.data))
    evaluator = TargetEvaluator.for_generator(replayer, target, generator, 100, seed=1)
    _, exact = estimate_influence(evaluator)
    _, damped = estimate_influence(evaluator, damping=0.5)
    assert np.abs(damped).sum() < 0.5 * np.abs(exact).sum()
    with pytest.raises(InfluenceError, match="damping"):
        estimate_influence(evaluator, damping=1.0)


# --- optimiser steps and targets against independent references ------------------------------------
@pytest.mark.parametrize("make", [
    lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.0, 0.9)),
    lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
    lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    lambda p: torch.optim.SGD(p, lr=0.1),
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
])
def test_functional_steps_match_torch_optimizers(make):
    torch.manual_seed(0)
    module = nn.Linear(3, 2)
    optimizer = make(module.parameters())
    spec = optimizer_spec(optimizer, module, "test")
    params = [p.detach().clone() for p in module.parameters()]
    slots = read_slots(optimizer, spec)
    for step in range(4):
        grads = [torch.randn_like(p) for p in params]
        for p, g in zip(module.parameters(), grads, strict=True):
            p.grad = g.clone()
        optimizer.step()
        params, slots = apply_step(spec, params, slots, grads, step)
    for ours, theirs in zip(params, module.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs.detach(), rtol=1e-6, atol=1e-7)


def test_unsupported_optimizers_are_named():
    module = nn.Linear(2, 1)
    with pytest.raises(InfluenceError, match="RMSprop"):
        optimizer_spec(torch.optim.RMSprop(module.parameters()), module, "generator")
    with pytest.raises(InfluenceError, match="AMSGrad"):
        optimizer_spec(torch.optim.Adam(module.parameters(), amsgrad=True), module, "generator")


def test_kde_target_matches_scikit_learn():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 2)), rng.normal(0.5, 1.2, size=(120, 2))
    target = KDELogLikelihood(real, len(fake), bandwidth=0.3, chunk=64)
    expected = KernelDensity(bandwidth=0.3).fit(fake).score_samples(real).mean()
    assert float(target(torch.from_numpy(fake))) == pytest.approx(expected, rel=1e-10)


def test_fid_target_matches_closed_form_and_has_exact_gradient():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(200, 4)), rng.normal(0.3, 0.8, size=(150, 4)) @ rng.normal(size=(4, 4))
    target = FrechetDistance(real, lambda x: x)
    s_r, s_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    expected = ((real.mean(0) - fake.mean(0)) ** 2).sum() + np.trace(s_r + s_f - 2 * sqrtm(s_r @ s_f).real)
    assert float(target(torch.from_numpy(fake))) == pytest.approx(expected, rel=1e-8)
    assert torch.autograd.gradcheck(target, (torch.from_numpy(fake[:20]).requires_grad_(),))


def test_fid_target_stays_finite_when_rank_deficient():
    rng = np.random.default_rng(2)
    target = FrechetDistance(rng.normal(size=(50, 8)), lambda x: x)
    fake = torch.from_numpy(rng.normal(size=(4, 8))).requires_grad_()
    value = target(fake)
    (grad,) = torch.autograd.grad(value, fake)
    assert float(value.detach()) >= 0 and torch.isfinite(grad).all()


# --- the scorer through the runner's context ------------------------------------------------------
def make_context(registry, dataset, tmp_path, **generator_options):
    config = RunConfig(dataset="toy", generator="mlp", scorer="influence", embedder="pixels", eval_embedder="pixels", selection="global",
                       generator_options={"steps": 15, "batch_size": 16, "hidden": 16, "layers": 2, **generator_options})
    return ScoringContext(dataset=dataset, features=dataset.data, config=config, registry=registry,
                          hooks=TrainingHooks(registry.plugin_manager), device="cpu", work_dir=tmp_path / "work")


def test_scorer_scores_match_the_estimator_and_are_cached(registry, tmp_path):
    dataset = load_toy(n=80, seed=3)
    context = make_context(registry, dataset, tmp_path)
    scorer = registry.create("scorer", "influence", {"window": None, "eval_samples": 200}, seed=4, device="cpu")
    scores = scorer.fit(dataset.data, dataset.labels, context=context).score(dataset.data)

    generator = small_mlp(registry, steps=15)
    recording = record_training(generator, dataset, registry.plugin_manager, seed=4)
    replayer = Replayer(recording, dataset.data)
    target = KDELogLikelihood(dataset.data, 200, feature_map=data_space_map(generator.to_model, dataset.data))
    value, influence = estimate_influence(TargetEvaluator.for_generator(replayer, target, generator, 200, seed=4))
    np.testing.assert_allclose(scores, influence, rtol=1e-5, atol=1e-9)  # loglik: higher is better, score = influence
    summary = json.loads(Path(context.work_dir / "influence.json").read_text())
    assert summary["target_value"] == pytest.approx(value, rel=1e-6) and summary["recording_bytes"] == recording.nbytes

    counter = TrainingCounter()
    registry.plugin_manager.register(counter)
    try:
        again = registry.create("scorer", "influence", {"window": None, "eval_samples": 200}, seed=4, device="cpu")
        np.testing.assert_array_equal(again.fit(dataset.data, context=context).score(dataset.data), scores)
    finally:
        registry.plugin_manager.unregister(counter)
    assert counter.starts == 0 and list((tmp_path / "cache" / "influence").glob("*.npz"))


def test_fid_scores_point_towards_keeping(registry, tmp_path):
    """For a lower-is-better target the score is minus the influence: removing a high scorer raises FID."""
    dataset = load_toy(n=80, seed=3)
    context = make_context(registry, dataset, tmp_path)
    fid = registry.create("scorer", "influence", {"target": "fid", "window": None, "eval_samples": 200}, seed=4, device="cpu")
    scores = fid.fit(dataset.data, context=context).score(dataset.data)
    generator = small_mlp(registry, steps=15)
    recording = record_training(generator, dataset, registry.plugin_manager, seed=4)
    replayer = Replayer(recording, dataset.data)
    target = FrechetDistance(dataset.data, data_space_map(generator.to_model, dataset.data))
    _, influence = estimate_influence(TargetEvaluator.for_generator(replayer, target, generator, 200, seed=4))
    np.testing.assert_allclose(scores, -influence, rtol=1e-5, atol=1e-9)


def test_scorer_errors_are_one_line(registry, tmp_path):
    dataset = load_toy(n=40, seed=0)
    scorer = registry.create("scorer", "influence", {}, seed=0, device="cpu")
    with pytest.raises(CurbenchError, match="context") as error:
        scorer.fit(dataset.data)
    assert "\n" not in str(error.value)
    for options, match in (({"target": "is"}, "target"), ({"damping": 1.5}, "damping"), ({"window": 0}, "window"),
                           ({"record_dtype": "int8"}, "record_dtype"), ({"eval_samples": 1}, "eval_samples"),
                           ({"space": "inception"}, "space")):
        with pytest.raises(CurbenchError, match=match):
            registry.create("scorer", "influence", options)
    with pytest.raises(CurbenchError, match="not fitted"):
        scorer.score(dataset.data)
    silent = load_registry()
    silent.add(GeneratorRecord("silent", SilentGenerator, "", "test", "test", "0"))
    context = make_context(silent, dataset, tmp_path)
    context = ScoringContext(**{**context.__dict__, "config": context.config.replace(generator="silent", generator_options={})})
    with pytest.raises(InfluenceError, match="no training through curbench's training hooks"):
        scorer.fit(dataset.data, context=context)


# --- validation on the toy track ---------------------------------------------------------------------
@pytest.mark.slow
def test_leave_one_out_agreement_on_toy():
    """Estimated vs actual change of the KDE log-likelihood when each of 32 fixed instances is removed.

    Actual = counterfactual retraining with the instance's weight at 0 (same init, batches, latents).
    """
    run = toy_run(ToySetup())
    predicted, actual = leave_one_out(run, fixed_instances(run.setup.n, 32))
    rho = spearmanr(predicted, actual).statistic
    assert rho >= LOO_SPEARMAN_THRESHOLD, f"Spearman {rho:.3f} below {LOO_SPEARMAN_THRESHOLD}"


@pytest.mark.slow
def test_cleansing_beats_random_removal_on_toy():
    """Removing the 5 most harmful instances improves the target more than removing 5 random ones, on 3 seeds."""
    margins = []
    for seed in range(3):
        gains = cleansing(toy_run(ToySetup(seed=seed)), k=5)
        assert gains["influence"] > gains["random"], (seed, gains)
        margins.append(gains["influence"] - gains["random"])
    assert np.mean(margins) >= CLEANSING_MARGIN, margins


@pytest.mark.parametrize("space", ["selection", "evaluation"])
def test_fid_target_differentiates_through_the_embedder_of_its_space_on_digits(registry, tmp_path, space):
    """Images: FID on the `pixels` features of the space the option names (the other space's embedder is a random
    CNN, so a target in the wrong space would not match), against a hand-built pixel FID target."""
    digits = registry.create("dataset", "digits", {})
    dataset = digits.subset(np.arange(120))
    embedders = {"embedder": "pixels", "eval_embedder": "random-cnn"}
    if space == "evaluation":
        embedders = {"embedder": "random-cnn", "eval_embedder": "pixels"}
    config = RunConfig(dataset="digits", generator="dcgan", scorer="influence", **embedders,
                       generator_options={"steps": 4, "batch_size": 8, "width": 4, "latent_dim": 8, "ema": 0.0})
    context = ScoringContext(dataset=dataset, features=dataset.data.reshape(120, -1).astype(np.float32), config=config,
                             registry=registry, hooks=TrainingHooks(registry.plugin_manager), device="cpu", work_dir=tmp_path)
    scorer = registry.create("scorer", "influence", {"eval_samples": 100, "space": space}, seed=0, device="cpu")
    scores = scorer.fit(context.features, dataset.labels, context=context).score(context.features)

    generator = registry.create("generator", "dcgan", {**config.generator_options, "device": "cpu"})
    recording = record_training(generator, dataset, registry.plugin_manager, seed=0)
    replayer = Replayer(recording, dataset.data)
    to_data = data_space_map(generator.to_model, dataset.data)
    target = FrechetDistance(pixel_features(dataset.data), lambda g: to_data(g).flatten(1) / 255)
    _, influence = estimate_influence(TargetEvaluator.for_generator(replayer, target, generator, 100, seed=0))
    np.testing.assert_allclose(scores, -influence, rtol=1e-4, atol=1e-10)
    assert np.count_nonzero(scores) > 0


def test_embedder_that_cannot_be_differentiated_is_refused():
    class Shuffled:
        name = "shuffled"
        device = torch.device("cpu")
        model = nn.Flatten()

        def preprocess(self, x):
            return x / 255

    images = np.random.default_rng(0).integers(0, 256, size=(4, 1, 8, 8), dtype=np.uint8)
    wrong = pixel_features(images)[:, ::-1]
    with pytest.raises(InfluenceError, match="target=loglik"):
        embedder_feature_map(Shuffled(), images, wrong)
    assert torch.allclose(embedder_feature_map(Shuffled(), images, pixel_features(images))(torch.from_numpy(images).double()).double(),
                          torch.from_numpy(pixel_features(images)))


@pytest.mark.slow
def test_cli_run_with_the_influence_scorer(tmp_path):
    out = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "curbench", "run", "--dataset", "toy", "--dataset-option", "n=200", "--generator", "mlp",
         "--generator-option", "steps=30", "--generator-option", "hidden=16", "--generator-option", "batch_size=32",
         "--embedder", "pixels", "--scorer", "influence", "--option", "window=10", "--option", "eval_samples=100",
         "--selection", "global", "--retention", "95", "--samples", "200", "--no-baselines", "--quiet",
         "--output-dir", str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "CURBENCH_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    (record_path,) = (out / "cells").glob("*/result.json")
    record = json.loads(record_path.read_text())
    assert record["config"]["scorer"] == "influence" and record["selection"]["n_kept"] == 190
    (summary_path,) = (out / "scorers").glob("*/influence.json")
    summary = json.loads(summary_path.read_text())
    assert summary["recorded_steps"] == 20 and summary["options"]["window"] == 10
