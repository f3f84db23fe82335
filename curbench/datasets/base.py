"""The dataset record every pipeline stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from curbench.cache import array_digest, key_digest
from curbench.errors import InvalidInputError


@dataclass(frozen=True, eq=False)
class Dataset:
    """In-memory data plus annotations.

    ``data`` is either uint8 images of shape (N, C, H, W) or float points of
    shape (N, D) (the 2-D toy track). ``labels`` are integer classes; ``groups``
    maps a grouping name (e.g. a CelebA attribute) to one integer per instance,
    used by the bias audit. ``typicality`` is each instance's known log-density under the process that
    made the data (synthetic datasets only), the ground truth scorers are graded against. ``splits``
    holds held-out data of the same task: ``reference``, the evaluation reference that training never
    sees, and ``evaluator``, what a trainable evaluation embedder learns from.
    """

    name: str
    data: np.ndarray
    labels: np.ndarray | None = None
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None
    typicality: np.ndarray | None = None
    splits: dict[str, Dataset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.data)
        if n == 0:
            raise InvalidInputError(f"dataset '{self.name}' is empty; check its source")
        for what, values in (("labels", self.labels), ("typicality", self.typicality), *self.groups.items()):
            if values is not None and len(values) != n:
                raise InvalidInputError(f"dataset '{self.name}': {what} has {len(values)} entries for {n} instances")

    @property
    def is_image(self) -> bool:
        """True for images (N, C, H, W); False for points (N, D)."""
        return self.data.ndim == 4

    def __len__(self) -> int:
        return len(self.data)

    @cached_property
    def content_hash(self) -> str:
        """Digest of the data and annotations; keys every cache derived from this dataset."""
        arrays = [self.data] + ([self.labels] if self.labels is not None else [])
        arrays += [self.groups[name] for name in sorted(self.groups)]
        arrays += [self.typicality] if self.typicality is not None else []
        digest = array_digest(*arrays)
        if not self.splits:  # datasets without splits keep the digests their caches and records were made with
            return digest
        return key_digest(data=digest, splits={name: split.content_hash for name, split in self.splits.items()})

    @property
    def reference(self) -> Dataset:
        """What generated samples are evaluated against: the held-out split when there is one, else all the data."""
        return self.splits.get("reference", self)

    @property
    def evaluator_training(self) -> Dataset:
        """What a trainable evaluation embedder learns from: its own split when there is one, else all the data."""
        return self.splits.get("evaluator", self)

    def subset(self, indices: np.ndarray) -> Dataset:
        """The instances at ``indices`` with their annotations; the held-out ``splits`` are not carried over."""
        return Dataset(
            name=self.name,
            data=self.data[indices],
            labels=None if self.labels is None else self.labels[indices],
            groups={key: values[indices] for key, values in self.groups.items()},
            class_names=self.class_names,
            typicality=None if self.typicality is None else self.typicality[indices],
        )
