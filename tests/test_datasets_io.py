"""Loaders for user data: .npy arrays, image folders, torchvision sets from a local root."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from curbench.datasets.arrays import load_arrays
from curbench.datasets.folder import load_image_folder
from curbench.datasets.torchvision_sets import load_celeba, load_cifar10, load_fashion_mnist, load_mnist
from curbench.errors import InvalidInputError

RNG = np.random.default_rng(0)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# -- .npy arrays --------------------------------------------------------------------------------


def test_arrays_round_trip(tmp_path):
    images = RNG.integers(0, 256, (5, 3, 4, 4), dtype=np.uint8)
    labels = np.array([0, 1, 1, 0, 2])
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    ds = load_arrays(str(tmp_path / "x.npy"), str(tmp_path / "y.npy"))
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert load_arrays(str(tmp_path / "x.npy")).labels is None


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((2, 3, 4, 4), np.float32), None, "must be uint8"),
        (np.zeros((2, 4, 4, 3), np.uint8), None, r"shape \(N, C, H, W\)"),
        (np.zeros((2, 1, 4, 4), np.uint8), np.array([0, 1, 2]), "3 entries|2 entries"),
        (np.zeros((2, 1, 4, 4), np.uint8), np.array([0.5, 1.0]), "must be integers"),
    ],
)
def test_arrays_reject_bad_input(tmp_path, images, labels, match):
    np.save(tmp_path / "x.npy", images)
    label_path = None
    if labels is not None:
        np.save(tmp_path / "y.npy", labels)
        label_path = str(tmp_path / "y.npy")
    with pytest.raises(InvalidInputError, match=match) as info:
        load_arrays(str(tmp_path / "x.npy"), label_path)
    _one_line(info)


def test_arrays_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        load_arrays(str(tmp_path / "nope.npy"))


# -- image folders ------------------------------------------------------------------------------


def _write_png(path, array_hwc_or_hw: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array_hwc_or_hw).save(path)


def test_folder_reads_classes_exactly_and_skips_corrupt_files(tmp_path):
    cat = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    dogs = [RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8) for _ in range(2)]
    _write_png(tmp_path / "cat" / "a.png", cat)
    _write_png(tmp_path / "dog" / "a.png", dogs[0])
    _write_png(tmp_path / "dog" / "b.png", dogs[1])
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image, ignored")

    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image\(s\): .*broken\.png"):
        ds = load_image_folder(str(tmp_path))
    assert ds.class_names == ("cat", "dog")
    np.testing.assert_array_equal(ds.labels, [0, 1, 1])
    expected = np.stack([cat, *dogs]).transpose(0, 3, 1, 2)  # PNG is lossless: bytes must survive exactly
    np.testing.assert_array_equal(ds.data, expected)

    with pytest.raises(InvalidInputError, match=r"broken\.png") as info:
        load_image_folder(str(tmp_path), on_error="fail")
    _one_line(info)


def test_folder_grayscale_loose_images_and_resizing(tmp_path):
    gray = [RNG.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(2)]
    for i, img in enumerate(gray):
        _write_png(tmp_path / f"{i}.png", img)
    ds = load_image_folder(str(tmp_path))
    assert ds.labels is None
    np.testing.assert_array_equal(ds.data, np.stack(gray)[:, None])

    _write_png(tmp_path / "big.png", RNG.integers(0, 256, (12, 16), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="different sizes.*size=N"):
        load_image_folder(str(tmp_path))
    resized = load_image_folder(str(tmp_path), size=4)
    assert resized.data.shape == (3, 1, 4, 4)


def test_folder_bad_options(tmp_path):
    _write_png(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(InvalidInputError, match="on_error"):
        load_image_folder(str(tmp_path), on_error="ignore")
    with pytest.raises(InvalidInputError, match="not found"):
        load_image_folder(str(tmp_path / "missing"))
    with pytest.raises(InvalidInputError, match="root=DIR"):
        load_image_folder(None)


# -- torchvision sets ----------------------------------------------------------------------------


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist, load_cifar10, load_celeba])
def test_torchvision_sets_missing_data_is_one_clear_line(tmp_path, loader):
    with pytest.raises(InvalidInputError, match=f"not found under {tmp_path}.*--data-root") as info:
        loader(root=str(tmp_path))
    _one_line(info)


def _write_idx(path, array: np.ndarray) -> None:
    """MNIST's IDX format: magic (0, 0, uint8 code 8, ndim), big-endian dims, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_files_in_the_real_format(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    train_x = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    train_y = RNG.integers(0, 10, 7).astype(np.uint8)
    _write_idx(raw / "train-images-idx3-ubyte", train_x)
    _write_idx(raw / "train-labels-idx1-ubyte", train_y)
    _write_idx(raw / "t10k-images-idx3-ubyte", train_x[:2])
    _write_idx(raw / "t10k-labels-idx1-ubyte", train_y[:2])
    ds = load_mnist(root=str(tmp_path), limit=5)
    np.testing.assert_array_equal(ds.data, train_x[:5, None])
    np.testing.assert_array_equal(ds.labels, train_y[:5])
    assert load_mnist(root=str(tmp_path), split="test").data.shape == (2, 1, 28, 28)
    with pytest.raises(InvalidInputError, match="split"):
        load_mnist(root=str(tmp_path), split="validation")
