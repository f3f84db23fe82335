"""Influence estimation for GANs (Terashita et al.): which training instances hurt a GAN metric."""

from curbench_influence.errors import InfluenceError

__all__ = ["InfluenceError"]
