"""Typed errors with exit codes; the CLI turns each into one line on stderr."""


class MobilecompError(Exception):
    """A fault the user can fix: the message names the file or field and the fix. ``salvage`` is
    work that could not be saved (profile rows), printed on stdout so it is not lost."""

    exit_code = 1

    def __init__(self, message: str, salvage: str = "") -> None:
        super().__init__(message)
        self.salvage = salvage


class ConfigError(MobilecompError):
    """A recipe, device profile or option is malformed."""

    exit_code = 2


class CheckpointError(MobilecompError):
    """A checkpoint is missing, unsafe or does not match its architecture."""

    exit_code = 3


class DataError(MobilecompError):
    """Text or labelled data could not be read."""

    exit_code = 4


class BundleError(MobilecompError):
    """A bundle is missing, incomplete or would be overwritten."""

    exit_code = 5


class ParityFailed(MobilecompError):
    """At least one artefact is over its budget (the bundle is still written and marked)."""

    exit_code = 6


class DeviceError(MobilecompError):
    """A profiling device is absent, unreachable or failed mid-run."""

    exit_code = 7


class ToolchainError(MobilecompError):
    """An exporter, quantiser or runtime failed on a model."""

    exit_code = 8


def first_line(exc: BaseException) -> str:
    """The first non-empty line of a library's exception message, for a one-line error (with the
    next line when the first only announces it, as in "Validation error for field 'x':")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    return " ".join(lines[:2] if lines[0].endswith(":") else lines[:1])[:200]
