"""The dataset record every pipeline stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from curbench.cache import array_digest
from curbench.errors import InvalidInputError


@dataclass(frozen=True, eq=False)
class Dataset:
    """In-memory data plus annotations.

    ``data`` is either uint8 images of shape (N, C, H, W) or float points of
    shape (N, D) (the 2-D toy track). ``labels`` are integer classes; ``groups``
    maps a grouping name (e.g. a CelebA attribute) to one integer per instance,
    used by the bias audit.
    """

    name: str
    data: np.ndarray
    labels: np.ndarray | None = None
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.data)
        if n == 0:
            raise InvalidInputError(f"dataset '{self.name}' is empty; check its source")
        for what, values in (("labels", self.labels), *self.groups.items()):
            if values is not None and len(values) != n:
                raise InvalidInputError(f"dataset '{self.name}': {what} has {len(values)} entries for {n} instances")

    @property
    def is_image(self) -> bool:
        return self.data.ndim == 4

    def __len__(self) -> int:
        return len(self.data)

    @cached_property
    def content_hash(self) -> str:
        """Digest of the data and annotations; keys every cache derived from this dataset."""
        arrays = [self.data] + ([self.labels] if self.labels is not None else [])
        arrays += [self.groups[name] for name in sorted(self.groups)]
        return array_digest(*arrays)

    def subset(self, indices: np.ndarray) -> Dataset:
        return Dataset(
            name=self.name,
            data=self.data[indices],
            labels=None if self.labels is None else self.labels[indices],
            groups={key: values[indices] for key, values in self.groups.items()},
            class_names=self.class_names,
        )
