"""Datasets: images (uint8, N x C x H x W) or 2-D points, with optional labels and groups."""

from curbench.datasets.base import Dataset

__all__ = ["Dataset"]
