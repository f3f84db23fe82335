"""curbench: benchmark data-curation methods for generative models."""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from curbench.errors import CurbenchError, InvalidInputError

PROJECT_NAME = "curbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

try:
    __version__ = version(PROJECT_NAME)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["PROJECT_NAME", "CurbenchError", "InvalidInputError", "__version__", "hookimpl", "hookspec"]
