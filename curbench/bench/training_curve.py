"""Training curves: train a generator in segments and evaluate the sampler after each one.

Resuming a built-in GAN from its checkpoint continues exactly where an uninterrupted
run would be (counter-based randomness, see :mod:`curbench.generators.train`), so a
curve costs only its evaluations: the final model is the one a single run trains.
Finished points are kept in ``curve.json`` beside the checkpoint, so an interrupted
cell resumes its curve too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from curbench import atomic
from curbench.bench.records import read_side_file
from curbench.errors import InvalidInputError

CURVE_FILE = "curve.json"


def curve_steps(total: int, every: int) -> list[int]:
    """The step counts evaluated: every ``every`` steps, and always the last one."""
    return sorted({*range(every, total, every), total})


def train_with_curve(
    build: Callable[[int], Any],
    fit: Callable[[Any], Any],
    evaluate: Callable[[Any], dict[str, float]],
    *,
    total_steps: int,
    every: int,
    checkpoint_dir: Path,
) -> tuple[Any, list[dict[str, float]]]:
    """``build(steps)`` a generator, ``fit`` it (resuming in ``checkpoint_dir``) and ``evaluate`` it per segment.

    Returns the generator trained for ``total_steps`` and one ``{"step", **metrics}`` per segment.
    """
    if not isinstance(every, int) or every < 0:
        raise InvalidInputError(f"eval_every must be an integer >= 0 (0: no training curve), got {every!r}")
    path = Path(checkpoint_dir) / CURVE_FILE
    points: list[dict[str, float]] = read_side_file(path, "training curve", _is_curve) or []
    done = {int(point["step"]) for point in points}
    generator = None
    for steps in curve_steps(total_steps, every):
        if steps in done and steps != total_steps:
            continue
        generator = fit(build(steps))
        if steps not in done:
            points.append({"step": steps, **evaluate(generator)})
            atomic.write_json(path, points)
    return generator, sorted(points, key=lambda point: point["step"])


def _is_curve(data: Any) -> TypeGuard[list[dict[str, float]]]:
    return isinstance(data, list) and all(isinstance(point, dict) and isinstance(point.get("step"), int) for point in data)
