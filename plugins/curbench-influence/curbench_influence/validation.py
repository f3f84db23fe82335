"""Checks of the estimator on the 2-D toy track: leave-one-out agreement and data cleansing.

Both use counterfactual retraining: the recorded run replayed from the same
initialisation with the same mini-batch order and latents, with the removed
instances' loss weights set to 0. That is the quantity the influence estimate
linearises, so it isolates the estimator's error from seed-to-seed GAN noise.

``python -m curbench_influence.validation`` prints the numbers quoted in docs/influence.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest

from curbench.datasets.toy import load_toy
from curbench.plugins import load_registry
from curbench_influence.estimator import TargetEvaluator, estimate_influence, record_training
from curbench_influence.replay import Replayer
from curbench_influence.targets import FrechetDistance, KDELogLikelihood, data_space_map, pixel_features


@dataclass(frozen=True)
class ToySetup:
    """A small MLP GAN on the toy ring: trains in about a second, so many counterfactual retrainings fit in a test."""

    n: int = 200
    steps: int = 120
    batch_size: int = 32
    hidden: int = 32
    layers: int = 2
    lr: float = 2e-4
    ema: float = 0.99
    target: str = "loglik"
    eval_samples: int = 500
    data_seed: int = 0
    seed: int = 0


@dataclass
class ToyRun:
    """A recorded toy run with its target, ready for influence and counterfactual retraining."""

    setup: ToySetup
    features: np.ndarray
    is_outlier: np.ndarray
    replayer: Replayer
    evaluator: TargetEvaluator
    higher_is_better: bool
    _scores: dict[float, np.ndarray] = field(default_factory=dict)

    def value(self, removed: np.ndarray | None = None) -> float:
        """The target after counterfactual retraining without ``removed`` (positions); None retrains on all."""
        weights = np.ones(self.setup.n, dtype=np.float32)
        if removed is not None:
            weights[removed] = 0
        with torch.no_grad():
            return float(self.evaluator.value(self.replayer.retrain(weights)))

    def improvement(self, removed: np.ndarray) -> float:
        """How much removing ``removed`` improves the target (positive = better), against retraining on all."""
        change = self.value(removed) - self.full_value
        return change if self.higher_is_better else -change

    @cached_property
    def full_value(self) -> float:
        """The target after counterfactual retraining on all instances, computed once."""
        return self.value()

    def scores(self, damping: float = 0.0) -> np.ndarray:
        """Influence scores, higher = keep (removing the instance would worsen the target)."""
        if damping not in self._scores:
            _, influence = estimate_influence(self.evaluator, damping=damping)
            self._scores[damping] = influence if self.higher_is_better else -influence
        return self._scores[damping]


def toy_run(setup: ToySetup = ToySetup()) -> ToyRun:
    """Train and record the ``setup``'s MLP GAN on the toy ring, with a target evaluator (latents: seed + 1)."""
    from curbench.generators.mlp import MLPGAN

    dataset = load_toy(n=setup.n, seed=setup.data_seed)
    generator = MLPGAN(steps=setup.steps, batch_size=setup.batch_size, hidden=setup.hidden, layers=setup.layers,
                       lr=setup.lr, ema=setup.ema, conditional=False, device="cpu")
    recording = record_training(generator, dataset, load_registry().plugin_manager, seed=setup.seed)
    replayer = Replayer(recording, dataset.data)
    to_data = data_space_map(generator.to_model, dataset.data)
    if setup.target == "loglik":
        target = KDELogLikelihood(dataset.data, setup.eval_samples, feature_map=to_data)
    else:
        target = FrechetDistance(pixel_features(dataset.data), to_data)
    evaluator = TargetEvaluator.for_generator(replayer, target, generator, setup.eval_samples, seed=setup.seed + 1)
    return ToyRun(setup, dataset.data, dataset.groups["outlier"].astype(bool), replayer, evaluator, target.higher_is_better)


def fixed_instances(n: int, count: int = 32, seed: int = 0) -> np.ndarray:
    """``count`` sorted distinct positions in ``range(n)``: the instances the leave-one-out check removes."""
    return np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))


def leave_one_out(run: ToyRun, instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, actual) improvement of the target when each instance alone is removed."""
    predicted = -run.scores()[instances]
    actual = np.array([run.improvement(np.array([j])) for j in instances])
    return predicted, actual


def isolation_forest_scores(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """The paper's baseline: Isolation Forest on the features, higher = more normal = keep."""
    return IsolationForest(random_state=seed).fit(features).score_samples(features)


def cleansing(run: ToyRun, k: int, random_draws: int = 5) -> dict[str, float]:
    """Target improvement from removing the k lowest-scored instances: influence, Isolation Forest, random."""
    rng = np.random.default_rng(run.setup.seed)
    random_gain = float(np.mean([run.improvement(rng.choice(run.setup.n, k, replace=False)) for _ in range(random_draws)]))
    return {
        "influence": run.improvement(np.argsort(run.scores(), kind="stable")[:k]),
        "isolation_forest": run.improvement(np.argsort(isolation_forest_scores(run.features), kind="stable")[:k]),
        "random": random_gain,
    }


def main() -> None:
    """Print the leave-one-out Spearman correlation and, for seeds 0 to 2, the cleansing gains of each method."""
    parser = argparse.ArgumentParser(description="influence estimator checks on the toy track")
    parser.add_argument("--target", default="loglik", choices=("loglik", "fid"))
    parser.add_argument("--lr", type=float, default=ToySetup.lr)
    parser.add_argument("--ema", type=float, default=ToySetup.ema)
    parser.add_argument("--steps", type=int, default=ToySetup.steps)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    setup = ToySetup(target=args.target, lr=args.lr, ema=args.ema, steps=args.steps)
    run = toy_run(setup)
    predicted, actual = leave_one_out(run, fixed_instances(setup.n))
    print(f"{setup}\nleave-one-out Spearman over 32 instances: {spearmanr(predicted, actual).statistic:.3f}")
    for seed in range(3):
        gains = cleansing(toy_run(ToySetup(**{**setup.__dict__, "seed": seed})), args.k)
        print(f"seed {seed}: improvement from removing {args.k}: " + ", ".join(f"{k} {v:+.4f}" for k, v in gains.items()))


if __name__ == "__main__":
    main()
