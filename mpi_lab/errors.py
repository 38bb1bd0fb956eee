"""What can go wrong in a run, as exceptions that carry the exit code the CLI ends with.

    ConfigError (and BackendUnavailable)   bad input or an unavailable choice      2
    WorkerError                            a kernel, its result or combine failed  1
    Interrupted                            SIGINT 130, SIGTERM 143, SIGHUP 129     128 + N
    DeadlinePassed                         ``--deadline`` / ``deadline=`` passed   124

``LabError`` and its subclasses are ``Exception``s. ``RunEnded`` (``Interrupted``,
``DeadlinePassed``) derive from ``BaseException``, like ``KeyboardInterrupt``: a kernel's
``except Exception`` does not swallow them; an interrupt by SIGINT *is* a ``KeyboardInterrupt``.

A worker's or a rank's failure travels as a ``failure.Failure`` record: plain fields, so that it
pickles across processes, subinterpreters and ranks whatever the original exception was.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing in every worker
if TYPE_CHECKING:
    from mpi_lab.failure import Failure

DEADLINE_EXIT = 124  # as `timeout` uses


class LabError(Exception):
    """Base class: a problem mpi_lab reports to the user without a traceback."""

    exit_code = 1
    agreed = False  # under MPI: every rank raises it at the same point (no rank waits)


class ConfigError(LabError, ValueError):
    """Bad input or an unavailable choice (exit 2)."""

    exit_code = 2


class BackendUnavailable(ConfigError):
    """The chosen backend cannot run here; the message says why."""


class WorkerError(LabError):
    """A kernel raised while running (exit 1); the message names the cause and where, and
    ``remote_traceback`` is the worker's traceback (empty if none came back); ``failure``
    the record of it, when a worker reported one."""

    def __init__(self, message: str, remote_traceback: str = "",
                 failure: Failure | None = None) -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback
        self.failure = failure


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

    It carries a ``Failure`` only, so it pickles across processes and subinterpreters even when
    the original exception would not.
    """

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure)
        self.failure = failure

    def __str__(self) -> str:
        return self.failure.line()


class ItemNotSent(Exception):
    """A backend could not hand ``item`` to a worker (pickling it failed, say): ``cause``."""

    def __init__(self, item: object, cause: BaseException) -> None:
        super().__init__(item, cause)
        self.item = item
        self.cause = cause


def failed_error(failure: Failure) -> LabError:
    """The exception that reports ``failure``: ``ConfigError`` for what is known to be bad input
    (exit 2), else ``WorkerError``; chained to the worker's traceback."""
    if failure.exit_code == ConfigError.exit_code:
        error: LabError = ConfigError(failure.line())
    else:
        error = WorkerError(failure.line(), failure.traceback, failure)
    if failure.traceback:
        error.__cause__ = RemoteTraceback(failure.traceback)
    return error


class RunEnded(BaseException):
    """The run was stopped before it finished; ``exit_code`` and ``line`` say how."""

    exit_code = 1

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class Interrupted(RunEnded, KeyboardInterrupt):
    """A signal asked the run to stop (SIGINT, SIGTERM or SIGHUP): exit 128 + its number. A
    ``KeyboardInterrupt``, so that scripts and notebooks treat it as Ctrl-C."""

    def __init__(self, signum: int, line: str) -> None:
        super().__init__(line)
        self.signum = signum
        self.exit_code = 128 + signum


class DeadlinePassed(RunEnded):
    """The run's deadline passed before it finished (exit 124)."""

    exit_code = DEADLINE_EXIT

    def __init__(self, seconds: float, line: str) -> None:
        super().__init__(line)
        self.seconds = seconds
