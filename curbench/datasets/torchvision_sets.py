"""torchvision datasets read from a local root (downloaded only when asked to and online)."""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torchvision
from torchvision import transforms

from curbench.cache import cache_root
from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError
from curbench.progress import progress

DATA_ENV = "CURBENCH_DATA_DIR"
CELEBA_CROP = 178  # the aligned faces are 178 x 218: crop the central square, as GAN work usually does


def data_root(root: str | None) -> Path:
    """``root``, else ``$CURBENCH_DATA_DIR``, else curbench's cache folder ``data/``."""
    return Path(root or os.environ.get(DATA_ENV) or cache_root() / "data").expanduser()


def _check_split(name: str, split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise InvalidInputError(f"{name} split must be one of {allowed}, got '{split}'")


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise InvalidInputError(f"limit must be a positive number of images, got {limit}")


def _open(factory: Callable[..., Any], name: str, root: Path, download: bool, **kwargs: Any) -> Any:
    """Construct a torchvision dataset, turning its missing-data and download failures into one line."""
    try:
        return factory(root=str(root), download=download, **kwargs)
    except (urllib.error.URLError, OSError) as exc:
        raise InvalidInputError(
            f"{name}: downloading into {root} failed ({type(exc).__name__}); when offline, copy the dataset there by hand"
        ) from None
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        if download:
            raise InvalidInputError(f"{name}: could not download into {root} ({str(exc).splitlines()[0]})") from None
        raise InvalidInputError(
            f"{name} not found under {root}; pass --data-root DIR that holds it (torchvision layout), "
            f"or download=true when online"
        ) from None


def _mnist_like(factory: Callable[..., Any], name: str, root: str | None, download: bool, split: str, limit: int | None) -> Dataset:
    _check_split(name, split, ("train", "test"))
    _check_limit(limit)
    ds = _open(factory, name, data_root(root), download, train=split == "train")
    images = ds.data[:limit].numpy().astype(np.uint8)[:, None]
    labels = ds.targets[:limit].numpy().astype(np.int64)
    return Dataset(name=name, data=images, labels=labels, class_names=tuple(ds.classes))


def load_mnist(root: str | None = None, download: bool = False, split: str = "train", limit: int | None = None) -> Dataset:
    """MNIST as uint8 (N, 1, 28, 28) with digit labels; ``limit`` keeps the first images."""
    return _mnist_like(torchvision.datasets.MNIST, "mnist", root, download, split, limit)


def load_fashion_mnist(root: str | None = None, download: bool = False, split: str = "train", limit: int | None = None) -> Dataset:
    """FashionMNIST as uint8 (N, 1, 28, 28) with class labels."""
    return _mnist_like(torchvision.datasets.FashionMNIST, "fashion-mnist", root, download, split, limit)


def load_cifar10(root: str | None = None, download: bool = False, split: str = "train", limit: int | None = None) -> Dataset:
    """CIFAR-10 as uint8 (N, 3, 32, 32) with class labels (torchvision verifies the files' md5 first)."""
    _check_split("cifar10", split, ("train", "test"))
    _check_limit(limit)
    ds = _open(torchvision.datasets.CIFAR10, "cifar10", data_root(root), download, train=split == "train")
    images = np.ascontiguousarray(ds.data[:limit].transpose(0, 3, 1, 2))
    labels = np.asarray(ds.targets[:limit], dtype=np.int64)
    return Dataset(name="cifar10", data=images, labels=labels, class_names=tuple(ds.classes))


def load_celeba(
    root: str | None = None, download: bool = False, split: str = "train", limit: int | None = None, size: int = 64,
    attributes: list[str] | None = None,
) -> Dataset:
    """Aligned CelebA, centre-cropped to 178 x 178 and resized to ``size``; its attributes (all 40, or the named
    ``attributes``) become ``groups``."""
    _check_split("celeba", split, ("train", "valid", "test", "all"))
    if attributes is not None and (not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes)):
        raise InvalidInputError(f"celeba attributes must be a list of attribute names, e.g. [Male, Young], got {attributes!r}")
    _check_limit(limit)
    if size < 1:
        raise InvalidInputError(f"celeba size must be a positive number of pixels, got {size}")
    prepare = transforms.Compose([transforms.CenterCrop(CELEBA_CROP), transforms.Resize(size)])
    ds = _open(torchvision.datasets.CelebA, "celeba", data_root(root), download, split=split, target_type="attr", transform=prepare)
    count = len(ds) if limit is None else min(limit, len(ds))
    images = np.empty((count, 3, size, size), dtype=np.uint8)
    for i in progress(range(count), desc="read celeba", unit="img"):
        images[i] = np.asarray(ds[i][0].convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)
    values = ds.attr[:count].numpy().astype(np.int64)
    groups = {name: values[:, j] for j, name in enumerate(ds.attr_names) if name}
    if attributes is not None:
        unknown = sorted(set(attributes) - set(groups))
        if unknown:
            raise InvalidInputError(f"unknown celeba attribute(s) {', '.join(unknown)}; known: {', '.join(groups)}")
        groups = {name: groups[name] for name in attributes}
    return Dataset(name="celeba", data=images, groups=groups)
