"""Component options: which names a factory takes, with a did-you-mean for the others."""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable
from typing import Any

from curbench.errors import PluginError


def _parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    try:
        return dict(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return None


def accepts_option(factory: Callable[..., Any], option: str) -> bool:
    """Whether ``factory`` takes ``option`` (checks a record's declared runtime_options; never decides what is passed)."""
    parameters = _parameters(factory)
    if parameters is None:
        return False
    return option in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def names_parameter(factory: Callable[..., Any], option: str) -> bool:
    """Whether ``factory`` has a parameter called ``option`` (a ``**kwargs`` catch-all does not count)."""
    parameters = _parameters(factory)
    return parameters is not None and option in parameters


def check_options(factory: Callable[..., Any], options: dict[str, Any], what: str) -> None:
    """Raise a one-line PluginError for an option ``factory`` does not take (suggesting close names), a value that
    is not finite, or a value whose type the factory's annotation rules out (``'false'`` for a ``bool``)."""
    for option, value in options.items():  # YAML's .inf / .nan: no option means them
        if isinstance(value, float) and not math.isfinite(value):
            raise PluginError(f"option '{option}' of {what} must be a finite number, got {value}")
    parameters = _parameters(factory)
    if parameters is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for option in options:
        if option not in accepted:
            close = difflib.get_close_matches(str(option), accepted, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            raise PluginError(f"unknown option '{option}' for {what}; {hint}valid options: {', '.join(accepted) or 'none'}")
        expected = _scalar_types(parameters[option].annotation)
        if expected and not _fits(options[option], expected):
            shown = " or ".join("null" if name == "None" else name for name in ("bool", "int", "float", "None")
                                if name in expected)
            hint = " (true or false, unquoted)" if expected <= {"bool", "None"} else ""
            raise PluginError(f"option '{option}' of {what} must be {shown}{hint}, got {options[option]!r}")


_SCALARS = {"bool", "int", "float", "None"}


def _scalar_types(annotation: Any) -> set[str]:
    """The names in an annotation made only of bool, int, float and None (``"int | None"``); else empty: not checked."""
    if isinstance(annotation, type):
        annotation = annotation.__name__
    if not isinstance(annotation, str):
        return set()
    optional = annotation.startswith("Optional[")
    inner = annotation[len("Optional["):-1] if optional else annotation
    names = {part.strip() for part in inner.split("|")} | ({"None"} if optional else set())
    return names if names <= _SCALARS else set()


def _fits(value: Any, expected: set[str]) -> bool:
    if value is None:
        return "None" in expected
    if isinstance(value, bool):
        return "bool" in expected
    if isinstance(value, int):
        return bool(expected & {"int", "float"})
    if isinstance(value, float):
        return "float" in expected
    return not expected & {"bool", "int", "float"}  # a string where a number or a flag belongs
