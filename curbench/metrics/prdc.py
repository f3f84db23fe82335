"""Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

All four come from the streaming engine in :mod:`curbench.knn`: two within-set
k-NN passes for the radii and one real x fake pass for every ball membership.
``tie="lt"`` reproduces ``prdc.compute_prdc`` (strict ``<``, scikit-learn's
distance arithmetic); ``tie="le"`` reproduces torch-fidelity's precision/recall
(``<=``, ``torch.cdist`` arithmetic, radius = ``kthvalue(k + 1)`` of the row
including the point's own computed distance) and applies ``<=`` to density and
coverage too. Coverage uses "the nearest fake point is inside the ball", which
equals "some fake point is inside the ball" under either rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curbench import knn
from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics, checked_inputs
from curbench.validation import check_positive_int

TIE_ARITHMETIC = {"lt": "prdc", "le": "torch-fidelity"}


def check_tie(tie: str) -> str:
    """``tie`` if it is ``lt`` (prdc's strict <) or ``le`` (torch-fidelity's <=), else one clear error."""
    if tie not in TIE_ARITHMETIC:
        raise InvalidInputError(f"tie must be 'lt' (prdc, strict <) or 'le' (torch-fidelity, <=), got {tie!r}")
    return tie


@dataclass(frozen=True)
class PRDCPoints:
    """Per-point outcomes, for per-group audits; the metrics are their means."""

    fake_in_real_balls: np.ndarray  # (M,) int64: real balls containing each fake point
    real_in_fake_balls: np.ndarray  # (N,) bool: recall indicator per real point
    real_covered: np.ndarray  # (N,) bool: coverage indicator per real point
    k: int

    def metrics(self) -> dict[str, float]:
        """Precision, recall, density and coverage: the means of the per-point outcomes."""
        return {
            "precision": float(np.mean(self.fake_in_real_balls > 0)),
            "recall": float(np.mean(self.real_in_fake_balls)),
            # prdc's operation order, so the float64 result is bit-identical to it.
            "density": float((1.0 / float(self.k)) * np.mean(self.fake_in_real_balls)),
            "coverage": float(np.mean(self.real_covered)),
        }


@dataclass(frozen=True)
class PassObservers:
    """Observers of the tiles of P/R/D/C's passes (:data:`curbench.knn.TileObserver`); None observes nothing.

    ``real`` sees the real x real pass, which runs only when the real radii are not cached;
    ``fake`` the fake x fake pass; ``cross`` the real (rows) x fake (columns) pass.
    """

    real: knn.TileObserver | None = None
    fake: knn.TileObserver | None = None
    cross: knn.TileObserver | None = None


def real_radii(
    reference: ReferenceStatistics,
    points: knn.ScreenedPoints,
    k: int,
    tie: str,
    observe: knn.TileObserver | None = None,
) -> np.ndarray:
    """Cached k-NN radii of the real features (``points``: their screen) under ``tie``'s reference arithmetic."""
    arithmetic = TIE_ARITHMETIC[tie]

    def compute() -> dict[str, np.ndarray]:
        return {"radii": knn.kth_neighbour_radii(points, k, arithmetic=arithmetic, observe=observe)}

    return reference.get("knn-radii", compute, k=k, arithmetic=arithmetic)["radii"]


class PRDC:
    """``PRDC(k=5, tie="lt")(real, fake) -> {"precision", "recall", "density", "coverage"}``."""

    def __init__(self, k: int = 5, tie: str = "lt", device: str | None = None, cache: bool = True) -> None:
        self.k = check_positive_int(k, "PRDC k")
        self.tie = check_tie(tie)
        self.device = device
        self.cache = bool(cache)

    def per_point(
        self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray, observers: PassObservers | None = None
    ) -> PRDCPoints:
        """Per-point outcomes; ``observers`` see the tiles of the passes (to reuse their products)."""
        observers = observers or PassObservers()
        reference, fake = checked_inputs(
            real, fake, min_rows=self.k + 1, use_cache=self.cache, why=f"k={self.k} nearest neighbours"
        )
        arithmetic = TIE_ARITHMETIC[self.tie]
        # Each set is screened once and shared by its radii pass and the real x fake pass.
        real_points, fake_points = knn.screen_pair(reference.real, fake, self.device)
        radii_real = real_radii(reference, real_points, self.k, self.tie, observers.real)
        radii_fake = knn.kth_neighbour_radii(fake_points, self.k, arithmetic=arithmetic, observe=observers.fake)
        members = knn.ball_memberships(
            real_points,
            fake_points,
            radii_real,
            radii_fake,
            strict=self.tie == "lt",
            arithmetic=arithmetic,
            observe=observers.cross,
        )
        return PRDCPoints(members.b_in_a_balls, members.a_in_b_balls, members.a_ball_hit, self.k)

    def __call__(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> dict[str, float]:
        """The four metrics of fake (M, D) against real (N, D) features; the real k-NN radii are cached."""
        return self.per_point(real, fake).metrics()
