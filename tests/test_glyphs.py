"""The glyphs dataset: its known generative process, held-out splits, and cells evaluated against the held-out reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from curbench.datasets import glyphs
from curbench.errors import InvalidInputError

try:
    glyphs.font_paths(glyphs.TRAINING_FONTS + glyphs.EVALUATOR_FONTS)
except InvalidInputError as missing:
    pytest.skip(f"glyphs fonts are not installed: {missing}", allow_module_level=True)

SMALL = {"n": 400, "n_reference": 200, "n_evaluator": 300, "size": 28}
NO_JITTER = dict.fromkeys(glyphs.JITTER, 0.0)


@pytest.fixture(scope="module")
def small():
    return glyphs.load_glyphs(**SMALL)


def test_splits_are_deterministic_distinct_and_shaped(small):
    again = glyphs.load_glyphs(**SMALL)
    assert small.content_hash == again.content_hash and np.array_equal(small.data, again.data)
    assert small.content_hash != glyphs.load_glyphs(**{**SMALL, "seed": 1}).content_hash
    assert small.data.shape == (400, 1, 28, 28) and small.data.dtype == np.uint8
    assert small.reference.data.shape == (200, 1, 28, 28) and small.evaluator_training.data.shape == (300, 1, 28, 28)
    # A changed held-out split changes the dataset's identity, so no cache or cell is reused across them.
    assert small.content_hash != glyphs.load_glyphs(**{**SMALL, "n_reference": 201}).content_hash
    assert not np.array_equal(small.data[:200], small.reference.data)


def test_evaluator_split_uses_only_its_own_fonts_and_the_others_never_do():
    assert not set(glyphs.TRAINING_FONTS) & set(glyphs.EVALUATOR_FONTS)
    factors = glyphs.sample_factors(5000, np.full(16, 1 / 16), np.random.default_rng(0))
    assert factors.fonts.max() < len(glyphs.EVALUATOR_FONTS)


def test_fonts_follow_the_zipf_law():
    probabilities = glyphs.zipf_probabilities(24, 1.1)
    ranks = np.arange(1, 25)
    assert probabilities == pytest.approx(ranks**-1.1 / np.sum(ranks**-1.1), rel=1e-12)
    factors = glyphs.sample_factors(40000, probabilities, np.random.default_rng(3))
    observed = np.bincount(factors.fonts, minlength=24)
    assert stats.chisquare(observed, probabilities * 40000).pvalue > 1e-3
    assert np.bincount(factors.strokes, minlength=4) / 40000 == pytest.approx(glyphs.STROKE_PROBABILITIES, abs=0.01)


def test_typicality_is_the_log_density_of_the_factors_and_atypical_is_its_lowest_tenth(small):
    probabilities = glyphs.zipf_probabilities(24, 1.1)
    factors = glyphs.sample_factors(400, probabilities, np.random.default_rng([0, 0]))
    expected = np.log(probabilities[factors.fonts]) + np.log(np.take(glyphs.STROKE_PROBABILITIES, factors.strokes))
    for name, std in glyphs.JITTER.items():
        expected += stats.norm.logpdf(factors.jitter[name], scale=std)
    assert small.typicality == pytest.approx(expected, rel=1e-12)
    assert np.array_equal(small.labels, factors.classes) and np.array_equal(small.groups["font"], factors.fonts)
    atypical = small.groups[glyphs.ATYPICAL_GROUPING].astype(bool)
    assert atypical.sum() == math.ceil(0.1 * 400) and small.typicality[atypical].max() < small.typicality[~atypical].min()


def test_a_glyph_is_centred_at_its_fixed_extent_and_the_jitter_moves_it_exactly():
    font = glyphs.font_paths(("DejaVuSans.ttf",))[0]
    plain = glyphs.render("K", font, 0, NO_JITTER, 32).astype(np.float64)
    rows, cols = np.nonzero(plain > 0)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == pytest.approx(glyphs._GLYPH_EXTENT * 32, abs=1.5)
    shifted = glyphs.render("K", font, 0, {**NO_JITTER, "shift_x": 3.0, "shift_y": -2.0}, 32).astype(np.float64)
    assert _centroid(shifted) - _centroid(plain) == pytest.approx([-2.0, 3.0], abs=0.1)
    quarter = glyphs.render("K", font, 0, {**NO_JITTER, "rotation": 90.0}, 32).astype(np.float64)
    # Rotating by 90 degrees (image y axis points down) is np.rot90 of the upright glyph, up to resampling.
    assert np.corrcoef(quarter.ravel(), np.rot90(plain, k=-1).ravel())[0, 1] > 0.9
    thick = glyphs.render("K", font, 6, NO_JITTER, 32)
    assert thick.astype(np.float64).sum() > plain.sum() * 1.2


def _centroid(image: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([np.average(rows, weights=image), np.average(cols, weights=image)])


@pytest.mark.parametrize("options, match", [
    ({"n": 5}, "n must be an integer >= 20"),
    ({"size": 100}, "size must be at most 64"),
    ({"zipf": -1}, "zipf must be a number"),
    ({"seed": "a"}, "seed must be an integer"),
])
def test_bad_options_are_one_line(options, match):
    with pytest.raises(InvalidInputError, match=match):
        glyphs.load_glyphs(**{**SMALL, **options})


def test_missing_fonts_name_the_debian_packages():
    with pytest.raises(InvalidInputError, match="apt-get install fonts-liberation fonts-freefont-ttf fonts-urw-base35"):
        glyphs.font_paths(("NoSuchFont.ttf",))


@pytest.mark.slow
def test_a_cell_is_evaluated_against_the_heldout_reference_in_both_spaces(tmp_path):
    from prdc import compute_prdc

    from curbench.bench.runner import CellRunner
    from curbench.config import RunConfig

    options = {**SMALL, "n": 300, "n_reference": 120}
    config = RunConfig(
        dataset="glyphs", dataset_options=options, embedder="random-cnn", eval_embedder="pixels", scorer="random",
        retention=100.0, generator="dcgan", generator_options={"steps": 4, "width": 4}, samples=120,
        output_dir=str(tmp_path), device="cpu",
    )
    record = CellRunner().run(config)
    data = glyphs.load_glyphs(**options)
    pixels = lambda images: images.reshape(len(images), -1).astype(np.float32) / np.float32(255)  # noqa: E731
    reference, training = pixels(data.reference.data), pixels(data.data)
    assert record.metrics["n_real"] == 120 and record.metrics["n_fake"] == 120
    # The ceiling: as many training images as the generator samples, against the held-out reference.
    draw = np.sort(np.random.default_rng([0, 5]).choice(300, 120, replace=False))
    ceiling = compute_prdc(reference, training[draw], nearest_k=5)
    assert record.references["real"]["recall"] == pytest.approx(ceiling["recall"], abs=1e-12)
    assert record.references["real"]["n_fake"] == record.metrics["n_fake"]
    selection = record.metrics_by_space["selection"]
    assert selection["n_real"] == 120 and selection["fid"] != record.metrics["fid"]
    assert 0 <= record.audit["memorization"]["nn_train_share"] <= 1 and record.audit["memorization"]["n_each"] == 120
    # Recall per group is over the held-out reference's instances, retention over the training split's.
    held_atypical = data.reference.groups[glyphs.ATYPICAL_GROUPING]
    assert set(record.audit["per_group"]["atypical"]) == {str(v) for v in np.unique(held_atypical)}
    assert record.selection.retention_by_group["font"].keys() == {str(f) for f in np.unique(data.groups["font"])}


def test_a_rendering_other_than_the_published_one_is_warned_about(monkeypatch, capsys):
    """Other font packages or Pillow draw other pixels: the published glyphs cells would not reproduce."""
    import hashlib

    from curbench.progress import WARNED_ENV

    images = {split: np.full((2, 1, 32, 32), value, dtype=np.uint8) for value, split in enumerate(("train", "reference", "evaluator"))}
    monkeypatch.delenv(WARNED_ENV, raising=False)
    glyphs._compare_with_published(images)
    assert "differ from those behind the published glyphs records" in capsys.readouterr().err
    same = hashlib.sha256(b"".join(images[split].tobytes() for split in ("train", "reference", "evaluator"))).hexdigest()
    monkeypatch.setattr(glyphs, "PUBLISHED_RENDERING", same)
    monkeypatch.delenv(WARNED_ENV, raising=False)
    glyphs._compare_with_published(images)
    assert capsys.readouterr().err == ""
