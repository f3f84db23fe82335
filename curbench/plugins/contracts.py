"""What each kind of component must provide: one Protocol per kind, checked when a plugin's component loads.

Plugins need not subclass anything; a component satisfies its contract when it has
the methods below. The method signatures are documented in ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset


@runtime_checkable
class DatasetContract(Protocol):
    """A dataset factory returns a :class:`curbench.datasets.base.Dataset`."""

    def subset(self, indices: np.ndarray) -> Any:
        """The dataset restricted to the rows at ``indices`` (how the runner trains on a selection)."""


@runtime_checkable
class EmbedderContract(Protocol):
    """Subclass :class:`curbench.embedders.base.Embedder` (or :class:`PretrainedEmbedder`) to get all of these."""

    def fit(self, dataset: Dataset) -> Any:
        """Adapt to the dataset (a no-op for most embedders); returns the embedder."""

    def embed(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, C, H, W) -> float32 features (N, D), without the feature cache."""

    def embed_batches(self, batches: Any, total: int, desc: str = "") -> np.ndarray:
        """Embed an iterable of uint8 batches holding ``total`` images into one float32 (total, D) array."""

    def fingerprint(self) -> str:
        """A digest of everything that determines the features; keys the feature cache."""


@runtime_checkable
class DataScorer(Protocol):
    """A data-stage scorer: ``fit`` on the instances' features, then one score per instance (higher = keep)."""

    def fit(self, features: np.ndarray, labels: np.ndarray | None = None) -> DataScorer:
        """Fit on the (N, D) features of the training set (and its labels, if any); returns the scorer."""

    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per row of ``features`` (shape (N,)); higher = keep."""


@runtime_checkable
class SampleTimeCurator(Protocol):
    """A sample-time curator: draws ``n`` curated samples from a trained generator."""

    def curate(self, generator: Any, n: int, *, seed: int, real: Dataset) -> tuple[np.ndarray, dict[str, float]]:
        """``n`` curated samples from ``generator`` and numbers on the curation (e.g. its acceptance rate)."""


@runtime_checkable
class GeneratorContract(Protocol):
    """Subclass :class:`curbench.generators.contract.Generator` to get the optional methods."""

    def fit(self, dataset: Dataset, *, seed: int = 0, hooks: Any = None, checkpoint_dir: Any = None) -> Any:
        """Train on ``dataset``, resuming from ``checkpoint_dir`` if it holds a checkpoint; returns the generator."""

    def sample(self, n: int, *, seed: int, labels: np.ndarray | None = None, latents: np.ndarray | None = None) -> np.ndarray:
        """``n`` samples for ``seed``: uint8 (n, C, H, W) images or float32 (n, D) points."""


@runtime_checkable
class Metric(Protocol):
    """``metric(real, fake)``: (N, D) and (M, D) feature arrays -> the keys its record declares, as floats."""

    def __call__(self, real: np.ndarray, fake: np.ndarray) -> Mapping[str, float]:
        """Compare real (N, D) and fake (M, D) features; one float per key the metric's record declares."""


@dataclass(frozen=True)
class Outcome:
    """One item an executor finished: its result, or a one-line error."""

    item: Any
    result: Any = None
    error: str | None = None


@runtime_checkable
class Executor(Protocol):
    """Runs independent items; yields one Outcome per item as it finishes, failures included."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        """Run ``fn`` on every item; yield an :class:`Outcome` for each as it finishes, failures included."""


# Optional capabilities: a component that has one is used for more; the runner asks with isinstance, never getattr.
@runtime_checkable
class ReportsQuality(Protocol):
    """An embedder that knows how good its space is (a trained one's held-out accuracy), recorded per cell."""

    def quality(self) -> Mapping[str, float]:
        """Named quality figures of the space, e.g. ``{"heldout_accuracy": 0.97}``."""


@runtime_checkable
class ReportsWeights(Protocol):
    """An embedder whose weights are trained at run time: the checksum of the weights it ended up with, recorded per cell."""

    def weights_checksum(self) -> str | None:
        """A digest of the fitted parameters, or None before fitting."""


@runtime_checkable
class HasTrainingLength(Protocol):
    """A generator whose ``options["steps"]`` is its training length, so that a training curve can be recorded."""

    options: Mapping[str, Any]


@runtime_checkable
class HasNetworks(Protocol):
    """A GAN whose torch networks can be counted (the record's model size)."""

    generator_net: Any
    discriminator_net: Any


@runtime_checkable
class NeedsNeighbours(Protocol):
    """A k-NN metric: its inputs need more than ``k`` rows."""

    k: int


@runtime_checkable
class ReportsStatus(Protocol):
    """An executor that says what each worker is doing (worker -> line), shown under the sweep's progress bar."""

    status: Any


CONTRACTS: dict[str, type] = {
    "dataset": DatasetContract,
    "embedder": EmbedderContract,
    "scorer": DataScorer,
    "generator": GeneratorContract,
    "metric": Metric,
    "executor": Executor,
}
_MEMBERS: dict[type, tuple[str, ...]] = {
    DatasetContract: ("subset",),
    EmbedderContract: ("fit", "embed", "embed_batches", "fingerprint"),
    DataScorer: ("fit", "score"),
    SampleTimeCurator: ("curate",),
    GeneratorContract: ("fit", "sample"),
    Metric: ("__call__",),
    Executor: ("map",),
}


def missing(contract: type, component: Any) -> list[str]:
    """The methods of ``contract`` that ``component`` (a class or an instance) lacks, as ``name()``."""
    if isinstance(component, type):
        # A class's own attributes: every class is callable, but its instances only when it defines __call__.
        has = {name for base in component.__mro__[:-1] for name, value in vars(base).items() if callable(value)}
        has |= {name for name in _MEMBERS[contract] if name != "__call__" and callable(getattr(component, name, None))}
    else:
        has = {name for name in _MEMBERS[contract] if callable(getattr(component, name, None))}
    return [f"{name}()" for name in _MEMBERS[contract] if name not in has]
