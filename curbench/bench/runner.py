"""One benchmark cell: data -> embed -> score -> select -> train -> sample -> evaluate -> record."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from curbench.bench import cells
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.cache import array_digest, key_digest, save_verified
from curbench.config import RunConfig
from curbench.datasets.base import Dataset
from curbench.device import resolve_device
from curbench.errors import InvalidInputError
from curbench.generators.lifecycle import TrainingHooks
from curbench.plugins import Kind, Registry, ScorerRecord, check_options, load_registry
from curbench.plugins.contracts import HasNetworks, HasTrainingLength, ReportsQuality, ReportsWeights
from curbench.progress import note, stage
from curbench.scorers.context import ScoringContext

FEATURES_MAX_BYTES = 256 * 2**20
LOCK_FILE = ".lock"


class CellRunner:
    """Runs cells against one registry; finished cells are read back instead of recomputed."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or load_registry()
        self._sizes: dict[str, int] = {}

    def cell_dir(self, config: RunConfig) -> Path:
        """The cell's folder, its id computed with this runner's registry."""
        return cells.cell_dir(config, self.registry)

    def finished(self, config: RunConfig) -> ResultRecord | None:
        """The cell's record when it has run before (and is really this cell's), else None."""
        return cells.finished_record(config, self.registry)

    def run(self, config: RunConfig) -> ResultRecord:
        """The cell's record: read back when finished, else computed under the cell's lock.

        Two processes given the same cell never both compute it: the second waits for the
        first and reads its record. The lock is an OS file lock, released when its holder
        dies, so a killed run leaves no stale lock behind.
        """
        finished = self.finished(config)
        if finished is not None:
            return finished
        with locked(self.cell_dir(config), "cell"):
            return self.finished(config) or self._compute(config)

    def _compute(self, config: RunConfig) -> ResultRecord:
        directory = self.cell_dir(config)
        started = time.perf_counter()
        device = resolve_device(config.device)
        dataset = self.registry.create("dataset", config.dataset, config.dataset_options, root=config.data_root)
        is_curator = self.scorer_record(config).stage == "sample"
        spaces: dict[str, dict[str, Any]] = {}

        kept = np.arange(len(dataset))
        diagnostics: dict[str, dict[str, float]] = {}
        if not is_curator and config.selects_data:
            from curbench.scorers.selection import select
            from curbench.visualize import save_typicality_grid

            stage("select: embed and score")
            embedder, features = self._selection_features(config, dataset, device)
            spaces["selection"] = _space(config.embedder, embedder)
            scores, diagnostics = self.score_features(config, dataset, features, device)
            kept = select(
                scores, config.retention, labels=dataset.labels,
                per_class=_per_class(config, dataset), mode=config.selection_mode,
            )
            if dataset.is_image:
                save_typicality_grid(dataset, scores, directory / "typicality.png")

        from curbench.bench.audit import audit
        from curbench.bench.evaluation import MetricSet
        from curbench.bench.memorization import memorization_check
        from curbench.bench.references import reference_rows
        from curbench.bench.shares import group_shares
        from curbench.visualize import save_grid

        # A dataset with a held-out split is evaluated against it, in the space of an embedder trained on
        # its evaluator split; neither is ever seen by selection or training.
        reference = dataset.reference
        stage("embed the reference")
        eval_embedder = self.registry.create(
            "embedder", config.eval_embedder, config.eval_embedder_options, device=device, weights=config.eval_weights
        )
        real_features = self._embed(eval_embedder, reference, device, fit_on=dataset.evaluator_training)
        spaces["evaluation"] = _space(config.eval_embedder, eval_embedder)
        n_samples = config.samples or len(reference)
        evaluate = MetricSet.build(self.registry, config.metrics, k=config.k, tie=config.tie)

        def evaluate_sampler(generator: Any) -> dict[str, float]:
            return evaluate(real_features, eval_embedder.embed(generator.sample(n_samples, seed=config.seed)))

        generator, curve = self._train(config, dataset.subset(kept), array_digest(kept), device, evaluate_sampler)
        sampling: dict[str, float] = {}
        if is_curator:
            samples, sampling = self._scorer(config, device).curate(generator, n_samples, seed=config.seed, real=dataset)
        elif config.stage == "sample":
            samples, sampling = self._reject_by_density(config, dataset, generator, n_samples, device)
        else:
            samples = generator.sample(n_samples, seed=config.seed)
        save_grid(samples[:64], directory / "samples.png")

        stage("evaluate")
        fake_features = eval_embedder.embed(samples)
        if real_features.nbytes + fake_features.nbytes <= FEATURES_MAX_BYTES:
            save_verified(directory / cells.FEATURES_FILE, {"real": real_features, "fake": fake_features})
        metrics, points = evaluate.with_points(real_features, fake_features, k=config.k, tie=config.tie)
        report = audit(dataset, kept, points, reference=reference)
        report["shares"] = group_shares(dataset, kept, real_features, fake_features, seed=config.seed, reference=reference)
        heldout = reference is not dataset
        training_features = (
            self._embed(eval_embedder, dataset, device, fit_on=dataset.evaluator_training) if heldout else real_features
        )
        references = reference_rows(
            evaluate, training_features, kept, heldout_reference=real_features if heldout else None,
            n_samples=n_samples, seed=config.seed,
        )
        if heldout:
            report["memorization"] = memorization_check(
                training_features[kept], real_features, fake_features, seed=config.seed
            )
        metrics_by_space: dict[str, dict[str, float]] = {}
        if _distinct_selection_space(config, dataset):
            metrics_by_space["selection"] = self._selection_space_metrics(config, dataset, evaluate, samples, device)
            spaces.setdefault("selection", {"embedder": config.embedder})

        cell = cells.cell_of(config, self.registry)
        record = ResultRecord(
            cell_id=cell_id(cell),
            config=cell,
            metrics=metrics,
            directions=evaluate.directions(),
            selection=Selection(
                n_total=len(dataset),
                n_kept=len(kept),
                kept_hash=array_digest(kept),
                retention_by_group=report.pop("retention_by_group"),
                diagnostics=diagnostics,
            ),
            sampling=sampling,
            audit=report,
            provenance=Provenance.collect(device, time.perf_counter() - started),
            references=references,
            curve=curve,
            spaces=spaces,
            model=_model_size(generator),
            metrics_by_space=metrics_by_space,
        )
        record.write(directory)
        return record

    def validate(self, config: RunConfig) -> None:
        """Fail before any work when a component name or option is wrong."""
        if self.scorer_record(config).stage == "sample" and config.stage != "sample":
            raise InvalidInputError(f"scorer '{config.scorer}' curates generated samples, so the stage is 'sample', "
                                    "not 'data'; pass --stage sample (or leave --stage out)")
        components: tuple[tuple[Kind, str, dict[str, Any]], ...] = (
            ("dataset", config.dataset, config.dataset_options),
            ("embedder", config.embedder, config.embedder_options),
            ("scorer", config.scorer, config.scorer_options),
            ("generator", config.generator, config.generator_options),
            ("embedder", config.eval_embedder, config.eval_embedder_options),
            *(("metric", name, {}) for name in config.metrics),
        )
        for kind, name, options in components:
            record = self.registry.get(kind, name)
            check_options(record.load(), options, f"{kind} '{name}'")
        for flag, name, weights in (("--weights", config.embedder, config.weights),
                                    ("--eval-weights", config.eval_embedder, config.eval_weights)):
            if weights is not None and "weights" not in self.registry.get("embedder", name).runtime_options:
                raise InvalidInputError(f"{flag} {weights}: embedder '{name}' loads no weights file (it trains or "
                                        f"builds its own); drop {flag}, or pick an embedder with weights such as inception")
        # Building the embedders resolves their weights, so a missing file fails here, not mid-sweep.
        self._selection_embedder(config, "cpu")
        self.registry.create(
            "embedder", config.eval_embedder, config.eval_embedder_options, device="cpu", weights=config.eval_weights
        )
        # Option values and data sizes too: a bad generator option or k >= N fails here, before any worker starts.
        self.registry.create("generator", config.generator, config.generator_options, device="cpu")
        size = self._dataset_size(config)
        if size <= config.k:
            raise InvalidInputError(
                f"k={config.k} needs more than {config.k} instances, but dataset '{config.dataset}' has {size}; "
                "pass a smaller k or a larger dataset"
            )

    def check_before_work(self, configs: Sequence[RunConfig], *, device: bool = True) -> None:
        """What :meth:`validate` leaves to the cells, checked before any of them runs: the scorer's option values
        (it is built once per distinct setting, e.g. knn's k=-3 fails here), the chosen metrics' output keys (two
        metrics declaring one key), and, with ``device``, the device (e.g. cuda where there is none)."""
        from curbench.bench.evaluation import declared_directions

        built: set[str] = set()
        devices: set[str] = set()
        for config in configs:
            key = json.dumps([config.scorer, config.scorer_options, config.seed], sort_keys=True, default=str)
            if key not in built:
                built.add(key)
                self.registry.create("scorer", config.scorer, config.scorer_options, seed=config.seed, device="cpu")
            declared_directions(self.registry, config.metrics)
            devices.add(config.device)
        for name in sorted(devices) if device else ():
            resolve_device(name)

    def _dataset_size(self, config: RunConfig) -> int:
        """The dataset's size, loaded once per dataset and options (a sweep validates many cells of one dataset)."""
        key = key_digest(name=config.dataset, options=config.dataset_options, root=config.data_root)
        if key not in self._sizes:
            dataset = self.registry.create("dataset", config.dataset, config.dataset_options, root=config.data_root)
            self._sizes[key] = len(dataset)
        return self._sizes[key]

    def scorer_record(self, config: RunConfig) -> ScorerRecord:
        """The registry's record of the cell's scorer (its declared stage and whether it wants a scoring context)."""
        record: ScorerRecord = self.registry.get("scorer", config.scorer)
        return record

    def _scorer(self, config: RunConfig, device: str) -> Any:
        return self.registry.create("scorer", config.scorer, config.scorer_options, seed=config.seed, device=device)

    def _embed(self, embedder: Any, dataset: Dataset, device: str, fit_on: Dataset | None = None) -> np.ndarray:
        from curbench.embedders.features import embed_dataset

        return embed_dataset(embedder, dataset, device=device, fit_on=fit_on)

    def _selection_space_metrics(
        self, config: RunConfig, dataset: Dataset, evaluate: Any, samples: np.ndarray, device: str
    ) -> dict[str, float]:
        """The cell's metrics again in the selection embedder's space, against the same reference."""
        embedder = self._selection_embedder(config, device)
        reference = self._embed(embedder, dataset.reference, device, fit_on=dataset)
        metrics: dict[str, float] = evaluate(reference, embedder.embed(samples))
        return metrics

    def _selection_embedder(self, config: RunConfig, device: str) -> Any:
        return self.registry.create(
            "embedder", config.embedder, config.embedder_options, device=device, weights=config.weights
        )

    def _selection_features(self, config: RunConfig, dataset: Dataset, device: str) -> tuple[Any, np.ndarray]:
        embedder = self._selection_embedder(config, device)
        return embedder, self._embed(embedder, dataset, device)

    def scores(self, config: RunConfig, dataset: Dataset, device: str) -> np.ndarray:
        """One score per instance of ``dataset`` (higher = more typical), per class when configured."""
        _, features = self._selection_features(config, dataset, device)
        return self.score_features(config, dataset, features, device)[0]

    def score_features(
        self, config: RunConfig, dataset: Dataset, features: np.ndarray, device: str
    ) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
        """The scores, and the fitted scorers' diagnostics (:func:`curbench.scorers.selection.summarize_diagnostics`)."""
        from curbench.scorers.selection import check_data_scorer, score_instances, summarize_diagnostics

        record = self.scorer_record(config)
        check_data_scorer(record)
        fitted: list[Any] = []

        def make_scorer() -> Any:
            fitted.append(self._scorer(config, device))
            return fitted[-1]

        if record.wants_context:
            context = ScoringContext(
                dataset=dataset, features=features, config=config, registry=self.registry,
                hooks=TrainingHooks(self.registry.plugin_manager), device=device,
                work_dir=Path(config.output_dir) / "scorers" / cells.cell_key(config, self.registry),
            )
            scores = make_scorer().fit(features, dataset.labels, context=context).score(features)
        else:
            scores = score_instances(make_scorer, features, dataset.labels, per_class=_per_class(config, dataset))
        return scores, summarize_diagnostics(fitted)

    def _train(
        self, config: RunConfig, subset: Dataset, kept_hash: str, device: str,
        evaluate_sampler: Callable[[Any], dict[str, float]],
    ) -> tuple[Any, list[dict[str, float]]]:
        """The trained generator, and its training curve when ``eval_every`` asks for one (else empty)."""
        # Cells that train on the same data with the same generator share one trained model.
        training_key = key_digest(
            data=subset.content_hash, kept=kept_hash, generator=config.generator,
            options=config.generator_options, seed=config.seed,
            **({"curve": config.eval_every} if config.eval_every else {}),
        )[:16]
        checkpoint_dir = Path(config.output_dir) / cells.GENERATORS_DIR / training_key
        hooks = TrainingHooks(self.registry.plugin_manager)

        def build(options: dict[str, Any]) -> Any:
            return self.registry.create("generator", config.generator, options, device=device)

        def fit(generator: Any) -> Any:
            with locked(checkpoint_dir, "training"):  # cells that share a trained model train it once
                return generator.fit(subset, seed=config.seed, hooks=hooks, checkpoint_dir=checkpoint_dir)

        if not config.eval_every:
            return fit(build(config.generator_options)), []
        from curbench.bench.training_curve import train_with_curve

        generator = build(config.generator_options)
        total = generator.options.get("steps") if isinstance(generator, HasTrainingLength) else None
        if not isinstance(total, int):
            raise InvalidInputError(
                f"generator '{config.generator}' has no 'steps' option, so it cannot record a training curve; "
                "pass --eval-every 0"
            )
        return train_with_curve(
            lambda steps: build({**config.generator_options, "steps": steps}), fit, evaluate_sampler,
            total_steps=total, every=config.eval_every, checkpoint_dir=checkpoint_dir,
        )

    def _reject_by_density(
        self, config: RunConfig, dataset: Dataset, generator: Any, n_samples: int, device: str
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Sample-time use of a data scorer: oversample, keep the most typical ``retention`` percent."""
        embedder, real_features = self._selection_features(config, dataset, device)
        scorer = self._scorer(config, device).fit(real_features)
        n_drawn = int(np.ceil(n_samples * 100 / config.retention))
        candidates = generator.sample(n_drawn, seed=config.seed)
        scores = scorer.score(embedder.embed(candidates))
        keep = np.sort(np.argsort(-scores, kind="stable")[:n_samples])
        return candidates[keep], {"acceptance_rate": n_samples / n_drawn}


def _model_size(generator: Any) -> dict[str, int]:
    """Parameter counts of a torch GAN's networks (empty for generators that are not torch modules)."""
    sizes = {}
    if isinstance(generator, HasNetworks):
        for name, net in (("generator_parameters", generator.generator_net),
                          ("discriminator_parameters", generator.discriminator_net)):
            if net is not None:
                sizes[name] = sum(p.numel() for p in net.parameters())
    return sizes


def _space(name: str, embedder: Any) -> dict[str, Any]:
    """How a record names a feature space: the embedder, what is known of its quality, and its trained weights."""
    quality = embedder.quality() if isinstance(embedder, ReportsQuality) else {}
    space = {"embedder": name, **{key: value for key, value in quality.items() if value == value}}  # drop NaN
    checksum = embedder.weights_checksum() if isinstance(embedder, ReportsWeights) else None
    return space if checksum is None else {**space, "weights": checksum}


def _distinct_selection_space(config: RunConfig, dataset: Dataset) -> bool:
    """Image cells whose selection embedder differs from the evaluation one are also evaluated where they selected."""
    same = (config.embedder, config.embedder_options) == (config.eval_embedder, config.eval_embedder_options)
    return dataset.is_image and not same


def _per_class(config: RunConfig, dataset: Dataset) -> bool:
    return config.selection == "per-class" and dataset.labels is not None


@contextlib.contextmanager
def locked(directory: Path, what: str) -> Iterator[None]:
    """Hold ``directory/.lock``; say so once when another process holds it and this one waits."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        note(f"waiting for the {what} in {directory}: another curbench process is computing it")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
