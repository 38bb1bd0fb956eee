"""Errors that the CLI turns into exit codes."""

from __future__ import annotations


class LabError(Exception):
    """Base class: a problem mpi_lab reports to the user without a traceback."""

    exit_code = 1


class ConfigError(LabError, ValueError):
    """Bad input or an unavailable choice (exit 2)."""

    exit_code = 2


class BackendUnavailable(ConfigError):
    """The chosen backend cannot run here; the message says why."""


class WorkerError(LabError):
    """A kernel raised while running (exit 1); the message names the cause and where, and
    ``remote_traceback`` is the worker's traceback (empty if none came back)."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback


class RemoteTraceback(Exception):
    """A worker's traceback, as text: the cause a ``WorkerError`` is chained to, as CPython's
    ``concurrent.futures`` does with ``_RemoteTraceback``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


class KernelFailed(Exception):
    """Raised in a worker when a kernel fails; travels back by pickle to the coordinator.

    It carries text only, so it pickles across processes and subinterpreters even when the
    original exception would not.
    """

    def __init__(self, item: str, cause: str, remote_traceback: str = "") -> None:
        super().__init__(item, cause, remote_traceback)
        self.item = item
        self.cause = cause
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        return f"{self.item}: {self.cause}"
