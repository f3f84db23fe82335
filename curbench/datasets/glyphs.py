"""glyphs: characters rendered from real fonts with a Zipf long tail, and the typicality of every image known.

Every image is drawn from a known generative process, so its true log-density is known:

- a character class, uniform over :data:`CHARACTERS`;
- a font, Zipf-distributed over the ranked :data:`TRAINING_FONTS` (p(rank r) ∝ r^-zipf): a few
  common faces and a long tail of rare italics, monospaced and script faces, which are the sparse
  regions of the data manifold that instance selection removes first;
- a stroke thickening, from a skewed discrete distribution;
- an affine jitter (rotation, log-scale, shear, translation), independent Gaussians.

``typicality`` is the sum of the log-probabilities of these factors (the class is uniform and
adds a constant); the group ``atypical`` marks the least typical tenth of the training split, the
ground truth that scorers are graded against (AUROC).

Three splits from independent random streams of one seed:

- the training data (``n``);
- ``reference`` (``n_reference``), held out from the same distribution: the evaluation reference
  that neither the selection embedder nor the GAN ever sees;
- ``evaluator`` (``n_evaluator``), rendered only from :data:`EVALUATOR_FONTS`, disjoint from the
  training fonts: what a trainable evaluation embedder learns from.

Fonts come from matplotlib's bundled faces and Debian's ``fonts-liberation``, ``fonts-freefont-ttf``
and ``fonts-urw-base35``. Renderings are cached, keyed by the options and every font file's sha256.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from curbench import streams
from curbench.cache import ArrayCache, key_digest
from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError
from curbench.progress import progress, warn

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

CHARACTERS = "ABEGKMRaeg"
DEBIAN_PACKAGES = ("fonts-liberation", "fonts-freefont-ttf", "fonts-urw-base35")
_DEBIAN_DIRS = (
    "/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/freefont", "/usr/share/fonts/opentype/urw-base35",
)
# Most common first: the Zipf rank of a font is its position here.
TRAINING_FONTS = (
    "DejaVuSans.ttf", "LiberationSans-Regular.ttf", "NimbusSans-Regular.otf", "DejaVuSerif.ttf",
    "NimbusRoman-Regular.otf", "FreeSans.ttf", "LiberationSerif-Regular.ttf", "DejaVuSans-Bold.ttf",
    "FreeSerif.ttf", "NimbusSans-Bold.otf", "DejaVuSansMono.ttf", "NimbusRoman-Bold.otf",
    "URWGothic-Book.otf", "P052-Roman.otf", "DejaVuSerif-Italic.ttf", "FreeMono.ttf",
    "NimbusSans-Italic.otf", "URWBookman-Light.otf", "STIXGeneralItalic.ttf", "C059-Italic.otf",
    "FreeSerifBoldItalic.ttf", "cmtt10.ttf", "NimbusMonoPS-BoldItalic.otf", "Z003-MediumItalic.otf",
)
EVALUATOR_FONTS = (
    "DejaVuSansMono-Bold.ttf", "DejaVuSerif-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
    "LiberationMono-Regular.ttf", "LiberationSans-Bold.ttf", "FreeSansBold.ttf", "FreeSerifItalic.ttf",
    "NimbusSansNarrow-Regular.otf", "C059-Roman.otf", "URWGothic-Demi.otf", "URWBookman-Demi.otf",
    "P052-Italic.otf", "NimbusMonoPS-Regular.otf", "DejaVuSans-Oblique.ttf", "LiberationSerif-BoldItalic.ttf",
)
# Stroke thickening in pixels of the 4x supersampled canvas, and its probabilities.
STROKES = (0, 2, 4, 6)
STROKE_PROBABILITIES = (0.55, 0.25, 0.13, 0.07)
# Standard deviations of the affine jitter: degrees, natural-log scale, shear, pixels of the output image.
JITTER = {"rotation": 6.0, "log_scale": 0.08, "shear": 0.12, "shift_x": 1.0, "shift_y": 1.0}
ATYPICAL_FRACTION = 0.1
ATYPICAL_GROUPING = "atypical"
SUPERSAMPLE = 4
_GLYPH_EXTENT = 0.72  # the longer side of a glyph's box, as a fraction of the image side
_RENDER_VERSION = 1  # bump when the rendering changes, so cached renderings are not reused
# sha256 of the default rendering (train, reference and evaluator images in that order) behind the published glyphs
# records: Debian 12's fonts-liberation 1:1.07.4-11, fonts-freefont-ttf 20120503-10, fonts-urw-base35 20200910-7,
# matplotlib 3.11.2's bundled fonts, Pillow 13.0.0. Other font or Pillow versions draw other pixels.
PUBLISHED_RENDERING = "e28e1b9313b5050fd8dbd9d172f5dff7d735a8ee837bd00b2be85811e4338f90"


@dataclass(frozen=True)
class Factors:
    """The latent factors of a batch of images, one entry per image."""

    classes: np.ndarray
    fonts: np.ndarray
    strokes: np.ndarray
    jitter: dict[str, np.ndarray]


def font_paths(names: tuple[str, ...]) -> list[Path]:
    """Each font file, from matplotlib's bundled faces or the Debian font packages; one error naming what is missing."""
    import matplotlib

    folders = [Path(matplotlib.get_data_path()) / "fonts" / "ttf", *map(Path, _DEBIAN_DIRS)]
    found: list[Path] = []
    missing: list[str] = []
    for name in names:
        path = next((folder / name for folder in folders if (folder / name).is_file()), None)
        if path:
            found.append(path)
        else:
            missing.append(name)
    if missing:
        raise InvalidInputError(
            f"glyphs needs the font files {', '.join(map(str, missing))}; install Debian's "
            f"{' '.join(DEBIAN_PACKAGES)} (apt-get install {' '.join(DEBIAN_PACKAGES)})"
        )
    return found


def zipf_probabilities(count: int, exponent: float) -> np.ndarray:
    """Zipf weights rank^-exponent for ranks 1..count, normalised to sum to 1 (exponent 0: uniform)."""
    weights = np.arange(1, count + 1, dtype=np.float64) ** -exponent
    total: float = weights.sum()
    return weights / total


def sample_factors(n: int, font_probabilities: np.ndarray, rng: np.random.Generator) -> Factors:
    """``n`` independent draws of the factors: uniform class, font by ``font_probabilities``, stroke, jitter."""
    return Factors(
        classes=rng.integers(0, len(CHARACTERS), n),
        fonts=rng.choice(len(font_probabilities), n, p=font_probabilities),
        strokes=rng.choice(len(STROKES), n, p=STROKE_PROBABILITIES),
        jitter={name: rng.normal(0.0, std, n) for name, std in JITTER.items()},
    )


def log_density(factors: Factors, font_probabilities: np.ndarray) -> np.ndarray:
    """log p(font) + log p(stroke) + Σ log N(jitter); the uniform class adds only a constant and is left out."""
    total: np.ndarray = np.log(font_probabilities[factors.fonts]) + np.log(np.asarray(STROKE_PROBABILITIES)[factors.strokes])
    for name, std in JITTER.items():
        total += -0.5 * (factors.jitter[name] / std) ** 2 - math.log(std * math.sqrt(2 * math.pi))
    return total


@cache
def _font(path: Path, pixels: int) -> FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), pixels)


def render(char: str, font_path: Path, stroke: int, jitter: dict[str, float], size: int) -> np.ndarray:
    """One white-on-black uint8 glyph of ``size`` x ``size``: drawn large, its ink box centred and
    scaled to a fixed extent, jittered by the affine factors, then box-filtered down (anti-aliased)."""
    from PIL import Image, ImageDraw

    canvas = size * SUPERSAMPLE
    drawing = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(drawing).text(
        (canvas / 2, canvas / 2), char, fill=255, font=_font(font_path, int(canvas * 0.6)), anchor="mm",
        stroke_width=stroke, stroke_fill=255,
    )
    box = drawing.getbbox()
    if box is None:
        raise InvalidInputError(f"font {font_path.name} draws nothing for {char!r}; it cannot be used for glyphs")
    left, top, right, bottom = box
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    fit = _GLYPH_EXTENT * canvas / max(right - left, bottom - top)
    angle = math.radians(jitter["rotation"])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shear = np.array([[1.0, jitter["shear"]], [0.0, 1.0]])
    forward = rotation @ shear * (fit * math.exp(jitter["log_scale"]))
    target = canvas / 2 + SUPERSAMPLE * np.array([jitter["shift_x"], jitter["shift_y"]])
    # PIL maps output pixels back to input pixels: input = centre + forward^-1 (output - target).
    inverse = np.linalg.inv(forward)
    offset = centre - inverse @ target
    coefficients = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    warped = drawing.transform((canvas, canvas), Image.Transform.AFFINE, coefficients, resample=Image.Resampling.BILINEAR)
    return np.asarray(warped.reduce(SUPERSAMPLE), dtype=np.uint8)


def render_all(factors: Factors, fonts: list[Path], size: int, desc: str) -> np.ndarray:
    """Render every glyph ``factors`` describe: uint8 (N, 1, size, size), white on black, with a progress bar."""
    images = np.empty((len(factors.classes), 1, size, size), dtype=np.uint8)
    for i in progress(range(len(images)), desc=desc, unit="glyph"):
        jitter = {name: float(values[i]) for name, values in factors.jitter.items()}
        images[i, 0] = render(CHARACTERS[factors.classes[i]], fonts[factors.fonts[i]], STROKES[factors.strokes[i]], jitter, size)
    return images


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_options(n: int, n_reference: int, n_evaluator: int, size: int, zipf: float, seed: int) -> None:
    for what, value, least in (("n", n, 20), ("n_reference", n_reference, 20), ("n_evaluator", n_evaluator, 20),
                               ("size", size, 16), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"glyphs option {what} must be an integer >= {least}, got {value!r}")
    if size > 64:
        raise InvalidInputError(f"glyphs option size must be at most 64 pixels, got {size}")
    if isinstance(zipf, bool) or not isinstance(zipf, int | float) or not 0 <= zipf <= 4:
        raise InvalidInputError(f"glyphs option zipf must be a number in [0, 4] (0 = all fonts equally common), got {zipf!r}")


def load_glyphs(
    n: int = 20000, n_reference: int = 10000, n_evaluator: int = 10000, size: int = 32, zipf: float = 1.1, seed: int = 0,
) -> Dataset:
    """The training split, with the held-out ``reference`` and the disjoint-font ``evaluator`` splits attached."""
    _check_options(n, n_reference, n_evaluator, size, zipf, seed)
    training_fonts, evaluator_fonts = font_paths(TRAINING_FONTS), font_paths(EVALUATOR_FONTS)
    font_probabilities = zipf_probabilities(len(training_fonts), zipf)
    uniform = np.full(len(evaluator_fonts), 1 / len(evaluator_fonts))
    key = key_digest(
        kind="glyphs", version=_RENDER_VERSION, n=n, n_reference=n_reference, n_evaluator=n_evaluator, size=size,
        zipf=zipf, seed=seed, characters=CHARACTERS, fonts=[_file_digest(p) for p in training_fonts + evaluator_fonts],
    )
    plan = {
        "train": (n, font_probabilities, training_fonts),
        "reference": (n_reference, font_probabilities, training_fonts),
        "evaluator": (n_evaluator, uniform, evaluator_fonts),
    }
    factors = {
        split: sample_factors(count, probabilities, np.random.default_rng([seed, streams.GLYPHS_SPLITS[split]]))
        for split, (count, probabilities, _) in plan.items()
    }

    def render_splits() -> dict[str, np.ndarray]:
        return {split: render_all(factors[split], fonts, size, f"render glyphs ({split})")
                for split, (_, _, fonts) in plan.items()}

    images = ArrayCache("datasets").get_or_compute(key, render_splits)
    if (n, n_reference, n_evaluator, size, zipf, seed) == load_glyphs.__defaults__:  # the rendering the tracks use
        _compare_with_published(images)
    splits = {
        split: _split(f"glyphs-{split}", images[split], factors[split], probabilities)
        for split, (_, probabilities, _) in plan.items()
    }
    train = splits["train"]
    return Dataset(
        name="glyphs", data=train.data, labels=train.labels, groups=train.groups, class_names=train.class_names,
        typicality=train.typicality, splits={"reference": splits["reference"], "evaluator": splits["evaluator"]},
    )


def _compare_with_published(images: Mapping[str, np.ndarray]) -> None:
    """Warn once when the default rendering differs from the one behind the published records."""
    digest = hashlib.sha256()
    for split in ("train", "reference", "evaluator"):
        digest.update(np.ascontiguousarray(images[split]).tobytes())
    if digest.hexdigest() != PUBLISHED_RENDERING:
        warn("the glyphs images rendered here differ from those behind the published glyphs records (other font "
             "packages or Pillow than curbench.datasets.glyphs.PUBLISHED_RENDERING names): its cells will not "
             "reproduce the leaderboard", key="glyphs-rendering")


def _split(name: str, images: np.ndarray, factors: Factors, font_probabilities: np.ndarray) -> Dataset:
    typicality = log_density(factors, font_probabilities)
    atypical = (typicality <= np.quantile(typicality, ATYPICAL_FRACTION)).astype(np.int64)
    return Dataset(
        name=name, data=images, labels=factors.classes.astype(np.int64),
        groups={ATYPICAL_GROUPING: atypical, "font": factors.fonts.astype(np.int64)},
        class_names=tuple(CHARACTERS), typicality=typicality,
    )
