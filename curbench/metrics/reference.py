"""Reference-side statistics, cached on disk so that every method scored against one reference pays once.

Entries live in the ``reference`` namespace of :class:`curbench.cache.ArrayCache`,
keyed by the content digest of the real features, the statistic's kind and its
parameters. ArrayCache verifies a checksum on every read and rebuilds a
corrupted entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import numpy as np

from curbench.cache import ArrayCache, array_digest, key_digest
from curbench.errors import InvalidInputError
from curbench.validation import check_features, check_same_dim

NAMESPACE = "reference"
# Bump when a statistic's definition changes, so stale entries are not reused.
FORMAT_VERSION = 1


class ReferenceStatistics:
    """Cached statistics of one real feature array; ``use_cache=False`` computes without touching disk."""

    def __init__(self, real: np.ndarray, *, use_cache: bool = True) -> None:
        self.real = check_features(real, "real features")
        self.use_cache = use_cache

    @cached_property
    def magnitude(self) -> float:
        """max |x| over the real features, computed once."""
        return largest_magnitude(self.real)

    @cached_property
    def digest(self) -> str:
        """Content digest of the real features, computed once: every cache key of this reference includes it."""
        return array_digest(self.real)

    def key(self, kind: str, **params: object) -> str:
        """Cache key of statistic ``kind`` with ``params`` for these real features (and :data:`FORMAT_VERSION`)."""
        return key_digest(kind=kind, real=self.digest, version=FORMAT_VERSION, **params)

    def get(
        self, kind: str, compute: Callable[[], Mapping[str, np.ndarray]], **params: object
    ) -> dict[str, np.ndarray]:
        """The arrays ``compute()`` returns for this reference, from the cache when present and intact."""
        if not self.use_cache:
            return {name: np.asarray(value) for name, value in compute().items()}
        return ArrayCache(NAMESPACE).get_or_compute(self.key(kind, **params), compute)

    def cached(self, kind: str, **params: object) -> dict[str, np.ndarray] | None:
        """The cached arrays of this statistic, or None (also when caching is off)."""
        return ArrayCache(NAMESPACE).get(self.key(kind, **params)) if self.use_cache else None


# Embedding features live within a few thousand in magnitude; inner products of vectors past this bound overflow
# float32 (max 3.4e38) once summed over thousands of dimensions.
MAX_MAGNITUDE = 1e15


def largest_magnitude(array: np.ndarray) -> float:
    """max |x| without an array-sized |x| temporary."""
    return max(-float(array.min()), float(array.max()))


def checked_inputs(
    real: np.ndarray | ReferenceStatistics, fake: np.ndarray, *, min_rows: int, use_cache: bool = True, why: str = ""
) -> tuple[ReferenceStatistics, np.ndarray]:
    """Validate real and fake features for a metric; an existing wrapper is reused so metrics share one digest.

    ``min_rows`` is the fewest samples the metric can work with; ``why`` names the option that sets it.
    """
    reference = real if isinstance(real, ReferenceStatistics) else ReferenceStatistics(real, use_cache=use_cache)
    fake = check_features(fake, "fake features")
    check_same_dim(reference.real, fake)
    for what, n in (("real features", len(reference.real)), ("fake features", len(fake))):
        if n < min_rows:
            raise InvalidInputError(f"{what} have {n} rows but {why or 'this metric'} needs at least {min_rows}; pass more samples")
    for what, largest in (("real features", reference.magnitude), ("fake features", largest_magnitude(fake))):
        if largest > MAX_MAGNITUDE:
            raise InvalidInputError(
                f"{what} reach |x| = {largest:.3g}, beyond {MAX_MAGNITUDE:.0e}, where the metrics' products overflow float32 "
                "(KID's kernel) or lose all precision; rescale the features (e.g. divide by their standard deviation)"
            )
    return reference, fake
