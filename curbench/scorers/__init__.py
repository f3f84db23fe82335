"""Scorers (features -> one score per instance, higher = kept first) and selection of the kept subset."""

from curbench.plugins.contracts import DataScorer
from curbench.scorers.base import Scorer
from curbench.scorers.selection import retention_by_group, score_instances, select

__all__ = ["DataScorer", "Scorer", "retention_by_group", "score_instances", "select"]
