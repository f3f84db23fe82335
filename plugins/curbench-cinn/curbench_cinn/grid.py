"""The projection grid: which real instances of the target source the projections land on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curbench.atomic import atomic_path
from curbench_cinn.separation import Projection

COLUMNS = ("original", "nearest in {to}", "nearest to projection")


def most_moved(projection: Projection, rows: int) -> np.ndarray:
    """Indices of the ``rows`` instances the projection displaces most (the most source-specific ones)."""
    return np.argsort(-np.linalg.norm(projection.displacement, axis=1), kind="stable")[:rows]


def _show(axis, image: np.ndarray) -> None:
    picture = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    axis.imshow(picture, cmap="gray" if image.shape[0] == 1 else None, vmin=0, vmax=255, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])


def projection_grid(
    path: str | Path,
    projection: Projection,
    images_from: np.ndarray,
    images_to: np.ndarray,
    groups_from: np.ndarray | None = None,
    rows: int = 8,
) -> np.ndarray:
    """Write a PNG, atomically: one row per instance of ``source_from`` that the projection moves most.

    Columns: the original image, its nearest real neighbour in ``source_to`` (the
    baseline), and the nearest real neighbour of its projection; rows are labelled
    with the instance's index and group. Returns the rows' indices.
    """
    chosen = most_moved(projection, rows)
    figure = Figure(figsize=(3 * 1.2 + 0.6, len(chosen) * 1.2 + 0.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(chosen), 3, squeeze=False)
    for row, index in enumerate(chosen):
        pictures = (
            images_from[index],
            images_to[projection.original_neighbour[index]],
            images_to[projection.neighbour[index]],
        )
        for column, picture in enumerate(pictures):
            _show(axes[row, column], picture)
        group = "" if groups_from is None else f"\ngroup {groups_from[index]}"
        axes[row, 0].set_ylabel(f"#{index}{group}", fontsize=7)
    for column, title in enumerate(COLUMNS):
        axes[0, column].set_title(title.format(to=projection.source_to), fontsize=8)
    figure.suptitle(f"{projection.source_from} -> {projection.source_to}", fontsize=9)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return chosen
