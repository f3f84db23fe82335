"""Strict YAML for configs and suites (issue #24): a duplicated key, a quoted boolean, a billion-laughs file or a
5000-deep nesting ends in one line naming the file and the key, exit 2, before any work."""

from __future__ import annotations

import time

import pytest
from test_cli_errors import curbench

from curbench.config import build_run_config, load_yaml, parse_options
from curbench.errors import InvalidInputError

SUITE = "track: t\ndataset: toy\ndataset_options: {n: 200}\ngenerator_options: {steps: 5}\ngrid:\n  seed: [0]\n"


def assert_refused(result, *fragments: str) -> None:
    """Exit 2 and exactly one stderr line holding ``fragments``: no traceback, no internal error, no output."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _billion_laughs() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\ndescription: *i\n"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("dataset: toy\nseed: 1\nseed: 2\n", ("key 'seed' appears twice", "lines 2 and 3")),
        ("dataset: toy\ngenerator_options:\n  steps: 5\n  steps: 50\n", ("key 'steps' appears twice", "lines 3 and 4")),
        ("dataset: toy\nbaselines: 'false'\n", ("baselines must be true or false", "'false'")),
        ("dataset: toy\nbaselines: \"no\"\n", ("baselines must be true or false", "'no'")),
        ("dataset: toy\ndescription: &x [*x]\n", ("alias *x", "refers to itself")),
        ("dataset: toy\nretention: !!python/object/apply:os.system [echo owned]\n", ("not valid YAML", "line 2")),
    ],
)
def test_strict_yaml_refuses_in_one_line_naming_the_file(tmp_path, text, fragments):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as info:
        build_run_config(path, {})
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_billion_laughs_file_fails_fast(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(_billion_laughs())
    start = time.monotonic()
    with pytest.raises(InvalidInputError, match="aliases expand to more than") as info:
        load_yaml(path)
    assert time.monotonic() - start < 5
    assert "\n" not in str(info.value) and str(path) in str(info.value) and "key '" in str(info.value)


@pytest.mark.parametrize("nesting", ["[" * 5000 + "]" * 5000, "{a: " * 5000 + "}" * 5000])
def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path, nesting):
    path = tmp_path / "deep.yaml"
    path.write_text(f"dataset: toy\ndataset_options: {nesting}\n")
    start = time.monotonic()
    with pytest.raises(InvalidInputError, match="nests deeper than 64 levels") as info:
        load_yaml(path)
    assert time.monotonic() - start < 5
    assert "key 'dataset_options" in str(info.value) and "line 2" in str(info.value)


def test_merge_keys_and_shallow_aliases_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\nlist: [*b, *b]\n")
    assert load_yaml(path) == {"base": {"x": 1, "y": 2}, "other": {"x": 3, "y": 2}, "list": [{"x": 1, "y": 2}] * 2}


def test_option_values_are_strict_yaml_too():
    with pytest.raises(InvalidInputError, match="nests deeper than 64 levels"):
        parse_options(["x=" + "[" * 5000 + "]" * 5000])
    with pytest.raises(InvalidInputError, match="--option sets 'k' twice"):
        parse_options(["k=3", "k=4"])


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("dataset: digits\n", ("suite.yaml", "key 'dataset' appears twice")),
        ("gpu: 'false'\n", ("suite.yaml", "gpu must be true or false", "'false'")),
        ("ci_slice: 5\n", ("suite.yaml", "ci_slice must be a mapping", "got 5")),
        ("description: " + "[" * 5000 + "]" * 5000 + "\n", ("suite.yaml", "nests deeper than 64", "key 'description")),
    ],
)
def test_suites_are_strict_yaml(tmp_path, extra, fragments):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE + extra)
    assert_refused(curbench("sweep", "--config", str(suite), "--dry-run", "--output-dir", str(tmp_path / "out")), *fragments)
    assert not (tmp_path / "out").exists()


def test_a_billion_laughs_suite_ends_in_one_line(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE + _billion_laughs())
    start = time.monotonic()
    assert_refused(curbench("sweep", "--config", str(suite), "--dry-run"), str(suite), "aliases expand to more than")
    assert time.monotonic() - start < 60

