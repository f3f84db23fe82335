"""The ``influence`` scorer: train the configured GAN once on all data, record it, score every instance.

score_j = the estimated change of the target metric, in its "better" direction,
caused by removing instance j: higher = removing it would hurt = keep.
Instances that never appear in a recorded mini-batch score 0.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import torch

from curbench import atomic
from curbench.cache import ArrayCache, key_digest
from curbench.device import resolve_device
from curbench.embedders.features import embed_dataset
from curbench.errors import InvalidInputError
from curbench.scorers.context import ScoringContext
from curbench.validation import check_features
from curbench_influence.errors import InfluenceError
from curbench_influence.estimator import TargetEvaluator, estimate_influence, record_training
from curbench_influence.replay import Replayer
from curbench_influence.targets import FrechetDistance, KDELogLikelihood, data_space_map, embedder_feature_map

TARGETS = ("auto", "loglik", "fid")
SPACES = ("selection", "evaluation")
RECORD_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
CACHE_VERSION = 1
SUMMARY_FILE = "influence.json"
_CHECKED_ROWS = 8  # real instances on which the differentiable eval embedder must reproduce the real one


class InfluenceScorer:
    """Influence-based data cleansing (Terashita et al.) as a data-stage scorer.

    Options: ``target`` (``loglik``: KDE log-likelihood of the real points, the
    default for point data; ``fid``: Frechet distance on embedder features, the
    default for images), ``space`` (whose embedder the FID target uses: the run's
    ``selection`` embedder, so that the metrics stay in a space the selection did
    not see, or its ``evaluation`` embedder, as the paper does), ``window`` (back-propagate through the last
    ``window`` training steps only; None = all), ``damping`` (shrink the
    back-propagated vector by 1 - damping per optimiser step), ``eval_samples``
    (generated samples the target sees), ``bandwidth`` (KDE bandwidth in data
    units; None = Scott's rule), ``record_dtype`` (float32, bfloat16 or float16
    storage of the recorded states).
    """

    stage: ClassVar[str] = "data"
    name: ClassVar[str] = "influence"

    def __init__(
        self,
        *,
        target: str = "auto",
        space: str = "selection",
        window: int | None = 100,
        damping: float = 0.0,
        eval_samples: int = 1000,
        bandwidth: float | None = None,
        record_dtype: str = "float32",
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        if target not in TARGETS:
            raise InvalidInputError(f"influence option target must be one of {', '.join(TARGETS)}, got {target!r}")
        if space not in SPACES:
            raise InvalidInputError(f"influence option space must be one of {', '.join(SPACES)}, got {space!r}")
        if record_dtype not in RECORD_DTYPES:
            raise InvalidInputError(f"influence option record_dtype must be one of {', '.join(RECORD_DTYPES)}, got {record_dtype!r}")
        if window is not None and (not isinstance(window, int) or window < 1):
            raise InvalidInputError(f"influence option window must be a positive integer (training steps) or null for all, got {window!r}")
        if not 0 <= damping < 1:
            raise InvalidInputError(f"influence option damping must be in [0, 1), got {damping!r}")
        if not isinstance(eval_samples, int) or eval_samples < 2:
            raise InvalidInputError(f"influence option eval_samples must be an integer >= 2, got {eval_samples!r}")
        if bandwidth is not None and not bandwidth > 0:
            raise InvalidInputError(f"influence option bandwidth must be > 0 or null for Scott's rule, got {bandwidth!r}")
        self.options = dict(target=target, space=space, window=window, damping=damping, eval_samples=eval_samples,
                            bandwidth=bandwidth, record_dtype=record_dtype)
        self.seed = seed
        self.device = device
        self.scores_: np.ndarray | None = None
        self.summary_: dict[str, object] = {}

    def fit(self, features: np.ndarray, labels: np.ndarray | None = None, *, context: ScoringContext | None = None) -> InfluenceScorer:
        """Train the configured GAN on the context's dataset, record it and estimate each instance's influence.

        Cached on disk; needs the runner's ``context`` and writes a summary into ``context.work_dir``.
        """
        if context is None:
            raise InfluenceError(
                "the influence scorer trains a GAN, so it needs the runner's context; "
                "use it through `curbench run --scorer influence` or pass context=ScoringContext(...)"
            )
        features = check_features(features, "influence fit features")
        dataset = context.dataset
        if len(features) != len(dataset):
            raise InvalidInputError(f"influence got {len(features)} feature rows for a dataset of {len(dataset)}; embed the whole dataset")
        config = context.config
        key = key_digest(
            version=CACHE_VERSION, data=dataset.content_hash, generator=config.generator,
            generator_options=config.generator_options, options=self.options, seed=self.seed,
            target_embedder=self._target_embedder(context),
        )
        cached = ArrayCache("influence").get_or_compute(key, lambda: self._estimate(context))
        self.scores_ = cached["scores"]
        self.summary_ = {name: float(value) for name, value in cached.items() if name != "scores"}
        atomic.write_json(context.work_dir / SUMMARY_FILE, {"options": self.options, "seed": self.seed, **self.summary_})
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """The fitted scores, one per training instance; ``features`` must be the fitted rows (only counted)."""
        if self.scores_ is None:
            raise InvalidInputError("influence scorer is not fitted; call fit(features, context=...) first")
        features = check_features(features, "influence score features")
        if len(features) != len(self.scores_):
            raise InvalidInputError(
                f"influence scores exist for the {len(self.scores_)} training instances only, got {len(features)} rows; "
                "score the features it was fitted on"
            )
        return self.scores_.copy()

    def _estimate(self, context: ScoringContext) -> dict[str, np.ndarray]:
        dataset = context.dataset
        device = resolve_device(context.device if self.device == "auto" else self.device)
        generator = context.registry.create(
            "generator", context.config.generator, context.config.generator_options, device=device
        )
        started = time.perf_counter()
        recording = record_training(
            generator, dataset, context.registry.plugin_manager, seed=self.seed,
            window=self.options["window"], dtype=RECORD_DTYPES[self.options["record_dtype"]],
        )
        trained = time.perf_counter()
        replayer = Replayer(recording, dataset.data, device=device)
        target = self._target(context, replayer, device)
        evaluator = TargetEvaluator.for_generator(replayer, target, generator, self.options["eval_samples"], seed=self.seed)
        value, influence = estimate_influence(evaluator, damping=self.options["damping"])
        sign = 1.0 if target.higher_is_better else -1.0
        scores = np.zeros(len(dataset), dtype=np.float64)
        np.add.at(scores, recording.train_indices, sign * influence)
        return {
            "scores": scores,
            "target_value": np.float64(value),
            "recording_bytes": np.float64(recording.nbytes),
            "recorded_steps": np.float64(len(recording.records)),
            "train_seconds": np.float64(trained - started),
            "influence_seconds": np.float64(time.perf_counter() - trained),
        }

    def _target(self, context: ScoringContext, replayer: Replayer, device: str) -> FrechetDistance | KDELogLikelihood:
        """The target metric, on data in its own units (generator output mapped back through ``to_model``).

        FID uses the embedder of the ``space`` option, differentiated through its network.
        """
        dataset = context.dataset
        target = self.options["target"]
        if target == "auto":
            target = "fid" if dataset.is_image else "loglik"
        to_data = data_space_map(replayer.to_model, dataset.data)
        if target == "loglik":
            return KDELogLikelihood(
                dataset.data.reshape(len(dataset), -1), self.options["eval_samples"], self.options["bandwidth"], to_data
            )
        name, options, weights = self._target_embedder(context)
        embedder = context.registry.create("embedder", name, options, device=device, weights=weights)
        real = embed_dataset(embedder, dataset, device=device)
        embed = embedder_feature_map(embedder, dataset.data[:_CHECKED_ROWS], real[:_CHECKED_ROWS])
        return FrechetDistance(real, lambda generated: embed(to_data(generated)))

    def _target_embedder(self, context: ScoringContext) -> tuple[str, dict[str, object], str | None]:
        """(name, options, weights) of the embedder the FID target differentiates through."""
        config = context.config
        if self.options["space"] == "selection":
            return config.embedder, config.embedder_options, config.weights
        return config.eval_embedder, config.eval_embedder_options, config.eval_weights
