"""PNG grids: exact tile geometry and content read back with PIL; typicality order checked against numpy argsort."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import curbench.visualize as visualize
from curbench.datasets.base import Dataset
from curbench.errors import CurbenchError
from curbench.visualize import save_grid, save_typicality_grid


def test_save_grid_places_every_image_in_its_tile(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    path = tmp_path / "grid.png"
    save_grid(images, path, nrow=3)
    picture = np.asarray(Image.open(path))
    pad = visualize.PAD
    assert picture.shape == (2 * (32 + pad) + pad, 3 * (32 + pad) + pad, 3)
    for i, image in enumerate(images):
        top, left = pad + (i // 3) * (32 + pad), pad + (i % 3) * (32 + pad)
        np.testing.assert_array_equal(picture[top : top + 32, left : left + 32], image.transpose(1, 2, 0))
    assert (picture[-32 - pad : -pad, -32 - pad : -pad] == 255).all()  # the empty sixth tile stays white


def test_small_grey_images_are_enlarged_without_blending(tmp_path):
    images = np.arange(2 * 64, dtype=np.uint8).reshape(2, 1, 8, 8)
    save_grid(images, tmp_path / "g.png")
    picture = np.asarray(Image.open(tmp_path / "g.png"))
    factor = visualize.MIN_TILE // 8
    first = picture[visualize.PAD : visualize.PAD + 32, visualize.PAD : visualize.PAD + 32]
    np.testing.assert_array_equal(first, np.kron(images[0, 0], np.ones((factor, factor), np.uint8)))


def test_points_become_a_scatter_png(tmp_path):
    save_grid(np.random.default_rng(0).normal(size=(100, 2)), tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").format == "PNG"


def test_bad_images_are_refused(tmp_path):
    with pytest.raises(CurbenchError, match="uint8"):
        save_grid(np.zeros((2, 1, 8, 8), np.float32), tmp_path / "x.png")


def test_typicality_grid_orders_by_score_within_each_class(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 10)
    images = rng.integers(0, 256, (30, 1, 8, 8), dtype=np.uint8)
    scores = rng.normal(size=30)
    captured = {}
    original_tile = visualize.tile

    def spy(array, nrow=None, pad=visualize.PAD):
        captured["array"], captured["nrow"] = array, nrow
        return original_tile(array, nrow, pad)

    monkeypatch.setattr(visualize, "tile", spy)
    path = tmp_path / "typical.png"
    save_typicality_grid(Dataset("d", images, labels), scores, path, per_class=3)
    assert Image.open(path).format == "PNG"
    assert captured["nrow"] == 7
    factor = visualize.MIN_TILE // 8
    tiles = captured["array"][:, :, ::factor, ::factor].reshape(3, 7, 1, 8, 8)
    for label in range(3):
        members = np.flatnonzero(labels == label)
        order = members[np.argsort(scores[members])[::-1]]
        np.testing.assert_array_equal(tiles[label, :3], images[order[:3]])
        np.testing.assert_array_equal(tiles[label, 4:], images[order[-3:]])
        assert (tiles[label, 3] == 255).all()
    with pytest.raises(CurbenchError, match="one score per instance"):
        save_typicality_grid(Dataset("d", images, labels), scores[:5], path)
