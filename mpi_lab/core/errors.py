"""What can go wrong in a run, as exceptions that carry the exit code the CLI ends with.

    ConfigError (and BackendUnavailable)   bad input or an unavailable choice      2
    WorkerError                            a kernel, its result or combine failed  1
    Interrupted                            SIGINT 130, SIGTERM 143, SIGHUP 129     128 + N
    DeadlinePassed                         ``--deadline`` / ``deadline=`` passed   124

``LabError`` and its subclasses are ``Exception``s. ``RunEnded`` (``Interrupted``,
``DeadlinePassed``) derive from ``BaseException``, like ``KeyboardInterrupt``: a kernel's
``except Exception`` does not swallow them; an interrupt by SIGINT *is* a ``KeyboardInterrupt``.

Under MPI, a failure every rank knows of is raised on every rank together as ``RankFailed``
(``RankConfigError`` or ``RankWorkerError``); ``PeerFailed`` stops a rank whose peer failed.
Two more never leave the lab: ``KernelFailed`` and ``ItemNotSent`` (a pool's, turned into a
``WorkerError`` naming the item), ``NotInSubinterpreter`` (turned into a fallback or an error).

A worker's or a rank's failure travels as a ``failures.Failure`` record: plain fields, so that it
pickles across processes, subinterpreters and ranks whatever the original exception was.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing in every worker
if TYPE_CHECKING:
    from mpi_lab.core.failures import Failure

DEADLINE_EXIT = 124  # as `timeout` uses
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report a Ctrl-C
UNCAUGHT_EXIT = 1  # an exception no one caught, as Python exits with it


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


def ending_behind(exc: BaseException) -> BaseException | None:
    """The stop (a signal, the deadline: ``RunEnded``; a peer rank's failure: ``PeerFailed``)
    that ``exc`` was raised while handling, if any.

    A stop is raised in the main thread wherever it is; caught half-way through releasing or
    re-taking a lock (``Condition.wait``), it comes out as that lock's ``RuntimeError``, or as
    whatever a caller made of that (an item "not sent"): the run stopped all the same."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop()
        if isinstance(current, (RunEnded, PeerFailed)):
            return current
        if id(current) in seen:
            continue
        seen.add(id(current))
        todo += [e for e in (current.__context__, current.__cause__) if e is not None]
    return None


def record_of(error: LabError) -> Failure:
    """The failure record ``error`` carries, or one made of it (a bad input found on rank 0)."""
    from mpi_lab.core.failures import Failure

    record = getattr(error, "failure", None)
    if record is None:
        record = Failure(str(error), tuple(cls.__name__ for cls in type(error).__mro__[:-1]),
                         traceback=getattr(error, "remote_traceback", ""),
                         exit_code=error.exit_code)
    return record  # type: ignore[no-any-return]


class RankFailed(LabError):
    """A failure that every rank knows of and raises together (no abort needed): raised
    as ``RankConfigError`` (exit 2) or ``RankWorkerError`` (exit 1), so that scripts catch
    it as ``ConfigError`` or ``WorkerError``, as without MPI."""

    agreed = True

    def __init__(self, message: str, exit_code: int, remote_traceback: str = "",
                 failure: Failure | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.remote_traceback = remote_traceback
        self.failure = failure  # the record of what failed, where one came with it


class RankConfigError(RankFailed, ConfigError):
    """Bad input, found on rank 0 and shared: every rank exits 2."""


class RankWorkerError(RankFailed, WorkerError):
    """A failure of the work on some rank, shared: every rank exits with its code."""


def rank_failed(message: str, exit_code: int, remote_traceback: str = "",
                failure: Failure | None = None) -> RankFailed:
    """The agreed failure to raise on every rank, chained to the worker's traceback if any
    (as ``concurrent.futures`` chains ``_RemoteTraceback``)."""
    cls = RankConfigError if exit_code == ConfigError.exit_code else RankWorkerError
    error = cls(message, exit_code, remote_traceback, failure)
    if remote_traceback:
        error.__cause__ = RemoteTraceback(remote_traceback)
    return error





class NotInSubinterpreter(Exception):
    """The kernel (or an item) cannot load in a subinterpreter: ``why``, in a line, and the
    module that could not be imported, if one is named."""

    def __init__(self, why: str, module: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.module = module


class PeerFailed(BaseException):
    """Another rank's share failed (``rank``): this rank's is abandoned. A ``BaseException``,
    so that no kernel's ``except Exception`` swallows it."""

    def __init__(self, rank: int) -> None:
        super().__init__(f"rank {rank} failed")
        self.rank = rank
