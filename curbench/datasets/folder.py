"""An image folder with one sub-folder per class (or loose images, unlabelled)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError
from curbench.progress import progress

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
ON_ERROR = ("skip", "fail")
# Everything PIL raises for a truncated, corrupt or unsupported file.
_READ_ERRORS = (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)


def read_image(path: Path, size: int | None) -> np.ndarray:
    """One image as uint8 (C, H, W), C = 1 for grayscale files and 3 otherwise.

    With ``size``, the shorter side is resized to ``size`` and the centre cropped
    to a square (the usual GAN-dataset preparation).
    """
    with Image.open(path) as image:
        image.load()
        image = image.convert("L" if image.mode in _GRAY_MODES else "RGB")
        if size is not None:
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BICUBIC)
        array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _list_images(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def load_image_folder(root: str | None = None, size: int | None = None, on_error: str = "skip") -> Dataset:
    """Load ``root/<class>/<image>`` (labels from sorted sub-folder names) or ``root/<image>`` (no labels).

    Unreadable files are reported by path: skipped with one warning
    (``on_error="skip"``) or fatal (``"fail"``); never a crash half-way.
    """
    if root is None:
        raise InvalidInputError("the folder dataset needs its location: pass root=DIR (or --data-root DIR)")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise InvalidInputError(f"image folder not found: {base}; pass the folder that holds the class sub-folders")
    if on_error not in ON_ERROR:
        raise InvalidInputError(f"on_error must be one of {ON_ERROR}, got '{on_error}'")
    if size is not None and size < 1:
        raise InvalidInputError(f"size must be a positive number of pixels, got {size}")
    class_dirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    if class_dirs:
        files = [(path, label) for label, d in enumerate(class_dirs) for path in _list_images(d)]
    else:
        files = [(path, -1) for path in _list_images(base)]
    if not files:
        raise InvalidInputError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {base}")

    images, labels, failures = [], [], []
    for path, label in progress(files, desc=f"read {base.name}", unit="img"):
        try:
            images.append(read_image(path, size))
        except _READ_ERRORS as exc:
            if on_error == "fail":
                raise InvalidInputError(f"cannot read image {path} ({exc}); fix or remove it, or use on_error=skip") from None
            failures.append(f"{path} ({type(exc).__name__})")
            continue
        labels.append(label)
    if failures:
        listed = "; ".join(failures[:5]) + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
        warnings.warn(f"skipped {len(failures)} unreadable image(s): {listed}", stacklevel=2)
    if not images:
        raise InvalidInputError(f"none of the {len(files)} images under {base} could be read")

    shapes = {img.shape[1:] for img in images}
    if len(shapes) > 1:
        raise InvalidInputError(
            f"images under {base} have different sizes ({', '.join(f'{h}x{w}' for h, w in sorted(shapes)[:3])}, ...); "
            "pass size=N to resize and centre-crop them"
        )
    if any(img.shape[0] == 3 for img in images):  # mixed folder: grayscale files join as RGB
        images = [np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img for img in images]
    return Dataset(
        name=base.name,
        data=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64) if class_dirs else None,
        class_names=tuple(d.name for d in class_dirs) if class_dirs else None,
    )
