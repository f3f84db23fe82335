"""The plugin's user-facing error: a curbench error, so the CLI prints it as one line."""

from curbench.errors import CurbenchError


class InfluenceError(CurbenchError):
    """A training configuration or option the influence estimator cannot handle."""
