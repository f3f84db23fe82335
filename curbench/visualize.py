"""PNG pictures of samples and of what a scorer keeps: sample grids, point scatters, typicality grids."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # a bare Figure renders with Agg and leaves pyplot's global state alone
from PIL import Image

from curbench import atomic
from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError
from curbench.validation import check_features, check_images

MIN_TILE = 32  # small images (8x8 digits) are enlarged to at least this many pixels per side
PAD = 2


def tile(images: np.ndarray, nrow: int | None = None, pad: int = PAD) -> np.ndarray:
    """uint8 (N, C, H, W) -> one uint8 (H', W', C) mosaic, ``nrow`` images per row, padded with white."""
    n, channels, height, width = images.shape
    per_row = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / per_row)
    canvas = np.full((rows * (height + pad) + pad, per_row * (width + pad) + pad, channels), 255, np.uint8)
    for i, image in enumerate(images):
        top, left = pad + (i // per_row) * (height + pad), pad + (i % per_row) * (width + pad)
        canvas[top : top + height, left : left + width] = image.transpose(1, 2, 0)
    return canvas


def _enlarge(images: np.ndarray) -> np.ndarray:
    factor = max(1, math.ceil(MIN_TILE / min(images.shape[2:])))
    return images.repeat(factor, axis=2).repeat(factor, axis=3)


def _save_image(canvas: np.ndarray, path: str | Path) -> None:
    picture = Image.fromarray(canvas[..., 0] if canvas.shape[2] == 1 else canvas)
    with atomic.atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")


def _save_figure(figure: Figure, path: str | Path) -> None:
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def save_grid(images: np.ndarray, path: str | Path, nrow: int | None = None) -> None:
    """Images (uint8 N x C x H x W) as a PNG mosaic; points (float N x D) as a scatter of the first two coordinates."""
    array = np.asarray(images)
    if array.ndim == 2:
        points = check_features(array, "points")
        figure = Figure(figsize=(4, 4))
        axes = figure.subplots()
        axes.scatter(points[:, 0], points[:, 1 if points.shape[1] > 1 else 0], s=4, alpha=0.6)
        axes.set_aspect("equal", adjustable="datalim")
        _save_figure(figure, path)
        return
    if nrow is not None and nrow < 1:
        raise InvalidInputError(f"nrow must be a positive integer, got {nrow}")
    _save_image(tile(_enlarge(check_images(array)), nrow), path)


def save_typicality_grid(dataset: Dataset, scores: np.ndarray, path: str | Path, per_class: int = 8) -> None:
    """Per class, the ``per_class`` most typical (highest score, left) and least typical (right) images.

    Without labels the whole dataset is one row. This is Figure 1 of DeVries et al. (2020).
    """
    images = check_images(dataset.data, f"dataset '{dataset.name}' images")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(dataset),):
        raise InvalidInputError(f"need one score per instance ({len(dataset)}), got shape {scores.shape}")
    if per_class < 1:
        raise InvalidInputError(f"per_class must be a positive integer, got {per_class}")
    labels = dataset.labels if dataset.labels is not None else np.zeros(len(dataset), np.int64)
    classes = np.unique(labels)
    blank = np.full((1, *images.shape[1:]), 255, np.uint8)
    rows = []
    for label in classes:
        members = np.flatnonzero(labels == label)
        ranked = members[np.argsort(-scores[members], kind="stable")]
        count = min(per_class, len(ranked))
        most, least = ranked[:count], ranked[len(ranked) - count :]
        row = [images[most], np.repeat(blank, per_class - count, 0), blank, images[least], np.repeat(blank, per_class - count, 0)]
        rows.append(np.concatenate(row))
    canvas = tile(_enlarge(np.concatenate(rows)), nrow=2 * per_class + 1)
    names = [_class_name(dataset, label) for label in classes] if dataset.labels is not None else ["all"]
    figure = Figure(figsize=(0.5 * (2 * per_class + 1) + 1, 0.5 * len(classes) + 0.8))
    axes = figure.subplots()
    axes.imshow(canvas.squeeze(-1) if canvas.shape[2] == 1 else canvas, cmap="gray", vmin=0, vmax=255)
    row_height = canvas.shape[0] / len(classes)
    axes.set_yticks((np.arange(len(classes)) + 0.5) * row_height, names)
    axes.set_xticks([canvas.shape[1] * 0.25, canvas.shape[1] * 0.75], ["most typical", "least typical"])
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    _save_figure(figure, path)


def _class_name(dataset: Dataset, label: int) -> str:
    if dataset.class_names is not None and 0 <= int(label) < len(dataset.class_names):
        return dataset.class_names[int(label)]
    return str(label)
