"""The one rounding rule of every board: half-width to two significant digits, the mean to the same decimal place."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from curbench.boards.tables import format_cell, format_estimate, metric_title, plus_minus
from curbench.stats import Interval


@pytest.mark.parametrize(("mean", "half_width", "shown"), [
    (930.0, 463.7578, "930 ± 460"),  # hundreds: the mean to the tens, as the half-width
    (1080.0, 463.7578, "1080 ± 460"),
    (1020.0, 499.7601, "1020 ± 500"),  # 499.76 -> 500 (two significant digits: 5.0e2)
    (0.9649, 0.0086, "0.9649 ± 0.0086"),
    (14.1693, 1.2893, "14.2 ± 1.3"),
    (9.6075, 3.0163, "9.6 ± 3.0"),  # a trailing zero of the half-width is kept: two digits
    (115.1416, 52.7095, "115 ± 53"),
    (-7.4464, 16.3267, "-7 ± 16"),  # negative, half-width larger than the mean
    (-30.5723, 0.7915, "-30.57 ± 0.79"),
    (0.0042, 0.0023, "0.0042 ± 0.0023"),
    (1.45e-05, 0.0052, "0.0000 ± 0.0052"),  # a mean far below its half-width: zeros, not 1.45e-05
    (-0.0004, 0.0052, "-0.0004 ± 0.0052"),
    (-0.00004, 0.0052, "0.0000 ± 0.0052"),  # never "-0.0000"
    (0.9994, 0.0004886, "0.99940 ± 0.00049"),  # half-width below 1e-3: fixed-point, not 0.0004886
    (0.00012345, 0.0000456, "0.000123 ± 0.000046"),  # both below 1e-3
    (0.5, 0.0996, "0.50 ± 0.10"),  # 0.0996 rounds up to 0.10: still two significant digits
    (12345.678, 0.012, "12345.678 ± 0.012"),
    (123456.0, 2345.0, "123500 ± 2300"),
    (1.0, 0.0, "1.000 ± 0"),  # deterministic: four significant digits and ± 0, not "1 ± 0"
    (0.1988, 0.0, "0.1988 ± 0"),
    (-21.7251, 0.0, "-21.73 ± 0"),
])
def test_mean_is_rounded_to_the_two_significant_digits_of_its_half_width(mean, half_width, shown):
    assert format_estimate(mean, half_width) == shown


@pytest.mark.parametrize(("mean", "shown"), [
    (9.6075, "9.608"), (115.1416, "115.1"), (1350.0, "1350"), (12345.678, "12350"), (1.0, "1.000"),
    (-0.5, "-0.5000"), (0.0004886, "0.0004886"), (1.45e-05, "0.00001450"), (9.99996, "10.00"), (0.0, "0.000"),
])
def test_a_value_without_an_interval_keeps_four_significant_digits(mean, shown):
    assert format_estimate(mean) == shown
    assert format_estimate(mean, math.nan) == shown


def test_nan_and_infinity():
    assert format_estimate(math.nan) == "—" and format_estimate(math.nan, 1.0) == "—"
    assert format_estimate(math.inf) == "∞" and format_estimate(-math.inf, 2.0) == "−∞"
    assert format_estimate(3.0, math.inf) == "3.000 ± ∞"


@pytest.mark.parametrize(("mean", "half_width", "shown"), [
    (930.0, 463.7578, "930 ± 460"),
    (935.5, 4.3, "936 ± 4"),  # a step count never shows decimals, even with a small half-width
    (1350.0, 0.0, "1350 ± 0"),
    (1200.0, math.nan, "1200"),
    (12345.0, math.nan, "12345"),
])
def test_counts_never_show_decimals(mean, half_width, shown):
    assert format_estimate(mean, half_width, integer=True) == shown


def test_plus_minus_follows_the_rule_and_says_one_seed():
    assert plus_minus(Interval(930.0, 463.7578, 0.0, 5)) == "930 ± 460"
    assert plus_minus(Interval(935.5, 4.3, 0.0, 5), integer=True) == "936 ± 4"
    assert plus_minus(Interval(0.96491, math.nan, math.nan, 1)) == "0.9649 (1 seed)"
    assert plus_minus(Interval(math.nan, math.nan, math.nan, 0)) == "—"


def test_cells_show_settings_as_given_and_measurements_with_four_significant_digits():
    assert format_cell(50.0) == "50" and format_cell(12.5) == "12.50" and format_cell(180) == "180"
    assert format_cell(0.0004886) == "0.0004886" and format_cell(1.45e-05) == "0.00001450"
    assert format_cell(math.nan) == "—" and format_cell("930 ± 460") == "930 ± 460"
    assert "e" not in format_cell(1.5e-9) and "e" not in format_cell(2.5e7)


def test_metric_titles_carry_the_direction():
    assert metric_title("fid", False) == "FID ↓" and metric_title("precision", True) == "precision ↑"
    assert metric_title("steps_to_full_fid", False) == "steps to full-data FID ↓"
    assert metric_title("vendi", None) == "vendi"


REPO = Path(__file__).resolve().parent.parent
COUNT_COLUMNS = ("steps to full-data FID", "kept", "samples real/fake", "seeds", "k of P@k", "generator_parameters")


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of every Markdown table in ``text``."""
    found, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---") and i > 0:
            rows = [row for row in lines[i + 1:] if row.startswith("| ")]
            end = next((j for j, row in enumerate(lines[i + 1:]) if not row.startswith("| ")), len(rows))
            found.append(([c.strip() for c in lines[i - 1].strip("|").split("|")],
                          [[c.strip() for c in row.strip("|").split("|")] for row in rows[:end]]))
    return found


def test_committed_boards_show_no_decimals_on_counts_and_no_scientific_notation():
    # A page whose records are absent is not generated now (``--check`` reports it); every other one is.
    pages = [page for page in sorted((REPO / "leaderboards").glob("*/leaderboard.md")) if (page.parent / "records").is_dir()]
    pages.append(REPO / "README.md")
    checked = 0
    for page in pages:
        for header, rows in _tables(page.read_text()):
            for row in rows:
                for title, cell in zip(header, row, strict=False):
                    assert not re.search(r"\de[-+]?\d", cell), f"{page.name}: {title} = {cell}"
                    if any(title.startswith(name) for name in COUNT_COLUMNS):
                        checked += 1
                        assert not re.search(r"\d\.\d", cell), f"{page.name}: {title} = {cell}"
    assert checked > 100


def test_one_mark_for_every_comparison_on_the_boards():
    from curbench.boards.tables import comparison_mark

    assert comparison_mark(math.nan, better=True) == ""  # untestable (one seed)
    assert comparison_mark(0.05, better=True) == "≈" and comparison_mark(0.049, better=True) == "▲"
    assert comparison_mark(0.001, better=False) == "▼"
