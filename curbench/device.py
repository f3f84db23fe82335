"""Device selection: CUDA when present unless the user says otherwise."""

from __future__ import annotations

import platform
from pathlib import Path

from curbench.errors import InvalidInputError


def resolve_device(requested: str = "auto") -> str:
    """``auto``: CUDA when available, else CPU; any other device name is validated and returned as given."""
    import torch  # here, so that reading finished cells never loads torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"device '{requested}' requested but CUDA is not available; use --device cpu or auto")
    try:
        torch.device(requested)
    except RuntimeError:
        raise InvalidInputError(f"unknown device '{requested}'; use auto, cpu, cuda or cuda:N") from None
    return requested


def cpu_model() -> str:
    """The processor's model name (Linux's /proc/cpuinfo, else ``platform.processor()``); '' where unknown."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor()
