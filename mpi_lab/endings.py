"""How a run ends when it does not finish: a signal or the deadline, turned into one exception.

SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, Slurm's ``scancel`` and time limit) and SIGHUP
raise ``Interrupted`` in the main thread, and ``--deadline`` raises ``DeadlinePassed`` there
(through SIGALRM), so the run unwinds as from an error: pools end their workers, blocks close.
The CLI then prints one line and ends the process with the case's exit code:

    interrupted (SIGINT) 130    terminated (SIGTERM) 143    hung up (SIGHUP) 129    deadline 124

Both derive from ``BaseException``, like ``KeyboardInterrupt``: a kernel's ``except Exception``
does not swallow them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

from mpi_lab import progress

DEADLINE_EXIT = 124  # as `timeout` uses
SIGNALS = {signal.SIGINT: "Interrupted", signal.SIGTERM: "Terminated", signal.SIGHUP: "Hung up"}


class RunEnded(BaseException):
    """The run was stopped before it finished; ``exit_code`` and ``line`` say how."""

    exit_code = 1

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class Interrupted(RunEnded):
    """A signal asked the run to stop."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        meter = progress.current()
        joint = ": " if meter.owner else " "
        super().__init__(f"{SIGNALS.get(signum, 'Stopped')} ({name}) after"
                         f" {time.monotonic() - meter.started:.1f} s{joint}{meter.summary()}")


class DeadlinePassed(RunEnded):
    """``--deadline`` seconds passed before the run finished."""

    exit_code = DEADLINE_EXIT

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        summary = progress.current().summary()
        joint = ": " if progress.current().owner else " "
        super().__init__(f"Error: deadline of {seconds:g} s passed{joint}{summary}; ending the run")


@contextlib.contextmanager
def signals_end_the_run() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` (once: a second signal
    while the run unwinds is ignored, so that the clean-up finishes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopped = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def deadline(seconds: float | None, shown: float | None = None) -> Iterator[None]:
    """Within the block, raise ``DeadlinePassed`` in the main thread once ``seconds`` have
    passed (the message names ``shown``, the user's deadline, if given)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise DeadlinePassed(seconds if shown is None else shown)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def leave_now(code: int) -> None:
    """End the process with ``code`` without waiting: no MPI_Finalize (a peer may be gone),
    no joining of worker threads (a kernel may never return). Streams are flushed, and
    multiprocessing's own clean-up runs (its temporary folder, the forkserver's socket)."""
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    util = sys.modules.get("multiprocessing.util")
    exit_function = getattr(util, "_exit_function", None)
    if exit_function is not None:
        with contextlib.suppress(Exception):
            exit_function()
    os._exit(code)
