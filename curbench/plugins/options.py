"""Component options: which names a factory takes, with a did-you-mean for the others."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from curbench.errors import PluginError


def _parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    try:
        return dict(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return None


def accepts_option(factory: Callable[..., Any], option: str) -> bool:
    parameters = _parameters(factory)
    if parameters is None:
        return False
    return option in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def check_options(factory: Callable[..., Any], options: dict[str, Any], what: str) -> None:
    """Raise a one-line PluginError for an option ``factory`` does not take, suggesting close names."""
    parameters = _parameters(factory)
    if parameters is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for option in options:
        if option not in accepted:
            close = difflib.get_close_matches(str(option), accepted, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            raise PluginError(f"unknown option '{option}' for {what}; {hint}valid options: {', '.join(accepted) or 'none'}")
