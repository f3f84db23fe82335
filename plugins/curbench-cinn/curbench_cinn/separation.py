"""Fit one cINN on features from several sources; report what is source-specific, what is shared, and projections.

Decomposition: ``z = f(x | s)`` is trained to be standard normal under every source
``s``, so the distribution of ``z`` does not depend on the source. ``z`` is the
*shared* part; everything that tells the sources apart is carried by the condition,
and for an instance ``x`` it is measured by the *specific* part: its log-density
under each source's condition, centred across sources (for two sources, the
log-likelihood ratio). If the cINN fits, the source is predictable from the specific
part as well as from ``x`` itself and not at all from ``z``. A projection
``x_{a->b} = f^{-1}(f(x | a) | b)`` keeps an instance's shared part and swaps its
source-specific part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from numbers import Integral, Real

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from curbench.device import resolve_device
from curbench.errors import InvalidInputError
from curbench.validation import check_features, check_labels
from curbench_cinn.model import ConditionalINN, Whitening

# Last fraction of training steps averaged for the reported final loss (single batches are noisy).
_LOSS_TAIL = 0.05


@dataclass(frozen=True)
class Settings:
    """Model and evaluation options of :func:`fit_sources` (keyword arguments of the same names)."""

    # Defaults are the settings validated on the digits planted case (docs/bias.md): a small,
    # strongly regularised model, because a flow fitted to ~1000 points per source memorises them.
    n_components: int = 8  # PCA directions modelled; the rest is treated as shared
    blocks: int = 4  # FrEIA AllInOneBlocks
    hidden: int = 64  # width of each coupling subnet
    clamp: float = 2.0  # soft clamp of the coupling log-scales
    steps: int = 600
    batch_size: int = 256
    lr: float = 3e-3
    noise: float = 0.3  # training jitter, whitened units
    holdout: float = 0.25  # fraction of each source kept out of training for the separation report
    folds: int = 5  # cross-validation folds of the source classifiers

    def __post_init__(self) -> None:
        for name in ("n_components", "blocks", "hidden", "steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise InvalidInputError(f"cinn {name} must be a positive integer, got {value!r}")
        if isinstance(self.folds, bool) or not isinstance(self.folds, Integral) or self.folds < 2:
            raise InvalidInputError(f"cinn folds must be an integer >= 2, got {self.folds!r}")
        for name in ("clamp", "lr"):
            value = getattr(self, name)
            if not isinstance(value, Real) or not value > 0:
                raise InvalidInputError(f"cinn {name} must be a positive number, got {value!r}")
        if not isinstance(self.noise, Real) or not self.noise >= 0:
            raise InvalidInputError(f"cinn noise must be a number >= 0, got {self.noise!r}")
        if not isinstance(self.holdout, Real) or not 0 < self.holdout < 1:
            raise InvalidInputError(f"cinn holdout must be in (0, 1), got {self.holdout!r}")

    @property
    def min_rows(self) -> int:
        """Rows a source needs: ``folds`` held out and ``folds`` to train on, at least."""
        return max(2 * self.folds, int(np.ceil(self.folds / min(self.holdout, 1 - self.holdout))))


@dataclass(frozen=True)
class Projection:
    """Every instance of ``source_from`` projected onto ``source_to``, with nearest real neighbours there."""

    source_from: str
    source_to: str
    projected: np.ndarray  # (N_from, D) feature space
    displacement: np.ndarray  # projected - original
    neighbour: np.ndarray  # index into source_to's features of each projection's nearest real instance
    neighbour_distance: np.ndarray
    original_neighbour: np.ndarray  # the same for the unprojected originals, the baseline
    original_neighbour_distance: np.ndarray


def _auc(labels: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(roc_auc_score(labels, proba[:, 1]))
    return float(roc_auc_score(labels, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))


class SourceFit:
    """A cINN fitted on several sources; built by :func:`fit_sources`."""

    def __init__(
        self,
        features: dict[str, np.ndarray],
        groups: dict[str, np.ndarray],
        settings: Settings,
        seed: int,
        device: str,
    ) -> None:
        self.sources = tuple(features)
        self.features = features
        self.groups = groups
        self.settings = settings
        self.seed = seed
        self.device = device
        rng = np.random.default_rng(seed)
        self.heldout: dict[str, np.ndarray] = {}
        for name, x in features.items():
            held = np.zeros(len(x), bool)
            held[rng.permutation(len(x))[: max(settings.folds, round(settings.holdout * len(x)))]] = True
            self.heldout[name] = held
        train = [x[~self.heldout[name]] for name, x in features.items()]
        train_sources = np.concatenate([np.full(len(x), i) for i, x in enumerate(train)])
        self.whitening = Whitening(np.concatenate(train), settings.n_components)
        self.model = ConditionalINN(
            self.whitening.n_components, len(self.sources), blocks=settings.blocks, hidden=settings.hidden,
            clamp=settings.clamp, seed=seed, device=device,
        )  # fmt: skip
        self.losses = self.model.fit(
            self.whitening.transform(np.concatenate(train)), train_sources, steps=settings.steps,
            batch_size=settings.batch_size, lr=settings.lr, noise=settings.noise, seed=seed,
        )  # fmt: skip

    def _index(self, source: str) -> int:
        if source not in self.sources:
            raise InvalidInputError(f"unknown source '{source}'; the fitted sources are {', '.join(self.sources)}")
        return self.sources.index(source)

    def _checked(self, x: np.ndarray, what: str) -> np.ndarray:
        array = check_features(x, what)
        dim = self.whitening.mean.shape[0]
        if array.shape[1] != dim:
            raise InvalidInputError(f"{what} have {array.shape[1]} dimensions but the cINN was fitted on {dim}")
        return array.astype(np.float64)

    def encode(self, x: np.ndarray, source: str) -> np.ndarray:
        """The shared part ``z = f(x | source)``, (N, n_components)."""
        index = self._index(source)
        x = self._checked(x, "features")
        return self.model.encode(self.whitening.transform(x), np.full(len(x), index))[0]

    def log_likelihoods(self, x: np.ndarray) -> np.ndarray:
        """(N, n_sources) log-density of each instance under each source's condition (whitened space, nats)."""
        y = self.whitening.transform(self._checked(x, "features"))
        return np.stack([self.model.encode(y, np.full(len(y), i))[1] for i in range(len(self.sources))], axis=1)

    def specific(self, x: np.ndarray) -> np.ndarray:
        """The source-specific part: log-likelihoods centred across sources, (N, n_sources)."""
        log_likelihoods = self.log_likelihoods(x)
        return log_likelihoods - log_likelihoods.mean(axis=1, keepdims=True)

    def project(self, x: np.ndarray, source_from: str, source_to: str) -> np.ndarray:
        """``f^{-1}(f(x | source_from) | source_to)`` in feature space; directions outside the model are kept."""
        index_from, index_to = self._index(source_from), self._index(source_to)
        x = self._checked(x, "features")
        y = self.whitening.transform(x)
        z, _ = self.model.encode(y, np.full(len(x), index_from))
        return x + self.whitening.displacement(self.model.decode(z, np.full(len(x), index_to)) - y)

    @cached_property
    def _neighbour_index(self) -> dict[str, NearestNeighbors]:
        return {name: NearestNeighbors(n_neighbors=1).fit(x) for name, x in self.features.items()}

    def nearest(self, x: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
        """Distance to, and index of, the nearest real instance of ``source`` (Euclidean, feature space)."""
        self._index(source)
        distance, index = self._neighbour_index[source].kneighbors(self._checked(x, "features"))
        return distance[:, 0], index[:, 0]

    def projection(self, source_from: str, source_to: str) -> Projection:
        """All instances of ``source_from`` projected onto ``source_to``, with their nearest neighbours there."""
        self._index(source_from)
        original = self.features[source_from]
        projected = self.project(original, source_from, source_to)
        distance, neighbour = self.nearest(projected, source_to)
        original_distance, original_neighbour = self.nearest(original, source_to)
        return Projection(
            source_from, source_to, projected, projected - original, neighbour, distance, original_neighbour, original_distance
        )

    @cached_property
    def _heldout_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Source labels, shared and specific parts of the held-out instances."""
        labels, shared, specific = [], [], []
        for i, name in enumerate(self.sources):
            x = self.features[name][self.heldout[name]]
            labels.append(np.full(len(x), i))
            shared.append(self.encode(x, name))
            specific.append(self.specific(x))
        return np.concatenate(labels), np.concatenate(shared), np.concatenate(specific)

    def _classify(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Cross-validated source probabilities from a logistic regression on ``features``."""
        folds = StratifiedKFold(self.settings.folds, shuffle=True, random_state=self.seed)
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return cross_val_predict(classifier, features, labels, cv=folds, method="predict_proba")

    @cached_property
    def separation(self) -> dict[str, object]:
        """How well the source is predicted from each part, on instances held out of the cINN's training.

        The classifier on the shared part sees ``[z, z^2]``: a linear boundary in these
        detects a source-dependent mean or per-dimension scale of ``z``, the ways an
        imperfect fit would leave the source visible in the latent.
        """
        labels, z, specific = self._heldout_parts
        proba = {"specific": self._classify(specific, labels), "shared": self._classify(np.hstack([z, z**2]), labels)}
        result: dict[str, object] = {"n_heldout": int(len(labels)), "chance_balanced_accuracy": 1 / len(self.sources)}
        for part, p in proba.items():
            result[f"{part}_auc"] = _auc(labels, p)
            result[f"{part}_balanced_accuracy"] = float(balanced_accuracy_score(labels, p.argmax(axis=1)))
        result["latent"] = {
            name: {
                "z_mean_norm": float(np.linalg.norm(z[labels == i].mean(axis=0))),
                "z_std_mean": float(z[labels == i].std(axis=0).mean()),
            }
            for i, name in enumerate(self.sources)
        }
        if len(self.groups) == len(self.sources):
            result["groups"] = self._group_separation(labels, proba["specific"])
        return result

    def _group_separation(self, labels: np.ndarray, proba: np.ndarray) -> dict[str, dict[str, float]]:
        """Specific-part AUC within each group present in every source's held-out part: where the sources differ."""
        groups = np.concatenate([self.groups[name][self.heldout[name]] for name in self.sources])
        result = {}
        for group in np.unique(groups):
            rows = groups == group
            if len(np.unique(labels[rows])) == len(self.sources):
                result[str(group)] = {"n_heldout": int(rows.sum()), "specific_auc": _auc(labels[rows], proba[rows])}
        return result

    def _projection_report(self, projection: Projection) -> dict[str, object]:
        report: dict[str, object] = {
            "mean_displacement_norm": float(np.linalg.norm(projection.displacement.mean(axis=0))),
            "mean_instance_displacement": float(np.linalg.norm(projection.displacement, axis=1).mean()),
            "median_neighbour_distance": float(np.median(projection.neighbour_distance)),
            "median_neighbour_distance_unprojected": float(np.median(projection.original_neighbour_distance)),
        }
        groups_from = self.groups.get(projection.source_from)
        if groups_from is None:
            return report
        groups_to = self.groups.get(projection.source_to)
        per_group = {}
        for group in np.unique(groups_from):
            rows = groups_from == group
            entry = {
                "n": int(rows.sum()),
                "share_in_source": float(rows.mean()),
                "mean_displacement_norm": float(np.linalg.norm(projection.displacement[rows].mean(axis=0))),
                "mean_instance_displacement": float(np.linalg.norm(projection.displacement[rows], axis=1).mean()),
            }
            if groups_to is not None:
                # Group of each projection = group of its nearest real instance in the target source.
                entry["share_in_target"] = float((groups_to == group).mean())
                entry["share_of_projections"] = float((groups_to[projection.neighbour] == group).mean())
                entry["share_of_unprojected"] = float((groups_to[projection.original_neighbour] == group).mean())
            per_group[str(group)] = entry
        report["groups"] = per_group
        return report

    def report(self) -> dict[str, object]:
        """Everything measured, JSON-serialisable."""
        tail = max(1, int(len(self.losses) * _LOSS_TAIL))
        pairs = [(a, b) for a in self.sources for b in self.sources if a != b]
        return {
            "sources": {name: int(len(x)) for name, x in self.features.items()},
            "settings": asdict(self.settings),
            "seed": self.seed,
            "device": self.device,
            "whitening": {
                "n_components": self.whitening.n_components,
                "explained_variance": self.whitening.explained_variance,
            },
            "final_loss": float(np.mean(self.losses[-tail:])),
            "separation": self.separation,
            "projections": {f"{a}->{b}": self._projection_report(self.projection(a, b)) for a, b in pairs},
        }


def check_seed(seed: object) -> int:
    """``seed`` as an int if it is a non-negative integer (bools excluded), else one clear error."""
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InvalidInputError(f"cinn seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def fit_sources(
    features_by_source: Mapping[str, np.ndarray],
    groups_by_source: Mapping[str, np.ndarray] | None = None,
    *,
    seed: int = 0,
    device: str = "cpu",
    **settings: object,
) -> SourceFit:
    """Fit a cINN on ``{source name: features (N, D)}`` conditioned on the source; deterministic given ``seed``.

    ``groups_by_source`` optionally gives one integer group per instance for some
    sources (e.g. classes); ``settings`` are the fields of :class:`Settings`.
    """
    try:
        options = Settings(**settings)
    except TypeError:
        valid = ", ".join(Settings.__dataclass_fields__)
        raise InvalidInputError(f"unknown cinn option among {sorted(settings)}; valid options: {valid}") from None
    check_seed(seed)
    if len(features_by_source) < 2:
        raise InvalidInputError(f"the cINN separates sources: pass at least 2, got {len(features_by_source)}")
    features = {}
    for name, x in features_by_source.items():
        features[str(name)] = check_features(x, f"features of source '{name}'", min_rows=options.min_rows).astype(np.float64)
    dims = {name: x.shape[1] for name, x in features.items()}
    if len(set(dims.values())) > 1:
        raise InvalidInputError(f"all sources need the same feature dimension, got {dims}; embed them with one embedder")
    groups = {}
    for name, values in (groups_by_source or {}).items():
        if str(name) not in features:
            raise InvalidInputError(f"groups given for unknown source '{name}'; sources are {', '.join(features)}")
        array = check_labels(values, len(features[str(name)]), f"groups of source '{name}'")
        if array.dtype.kind not in "iub":
            raise InvalidInputError(f"groups of source '{name}' must be integers, got dtype {array.dtype}")
        groups[str(name)] = array.astype(np.int64)
    return SourceFit(features, groups, options, int(seed), resolve_device(device))
