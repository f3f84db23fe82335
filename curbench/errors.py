"""User-facing errors: the CLI prints these as one line and exits non-zero."""


class CurbenchError(Exception):
    """An error caused by input the user can fix; its message says what and how."""

    exit_code = 2


class InvalidInputError(CurbenchError):
    """A file, array or option the user passed is missing or malformed."""


class PluginError(CurbenchError):
    """A plugin is unknown, duplicated, or failed to load."""


class MissingWeightsError(CurbenchError):
    """Pretrained weights are not on disk and cannot be downloaded."""
