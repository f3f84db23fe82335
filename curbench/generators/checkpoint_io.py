"""Generator checkpoints on disk: one torch file per state, read without unpickling arbitrary objects."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from curbench import atomic
from curbench.errors import InvalidInputError

CHECKPOINT_FORMAT = "curbench.generator/1"


def read_checkpoint(path: str | Path, what: str = "generator checkpoint") -> dict[str, Any]:
    """A curbench checkpoint as a dict, loaded without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{what} not found: {path}; check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"{what} {path} cannot be read ({reason}); re-save it or retrain") from None
    if not isinstance(state, dict):
        raise InvalidInputError(f"{what} {path} holds a {type(state).__name__}, not a state dict")
    return state


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` as a torch checkpoint at ``path``, atomically."""
    # Serialised in memory first: torch's file writer turns a full disk into an opaque RuntimeError,
    # a plain write raises the OSError that atomic turns into one line naming the file.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic.write_bytes(path, buffer.getbuffer())


def load_state(module: nn.Module, state: Any, what: str, path: str | Path) -> None:
    """``module.load_state_dict`` strictly, turning a mismatch into one line."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InvalidInputError(
            f"{what} in {path} does not fit this architecture ({reason}); pass the options it was trained with"
        ) from None
