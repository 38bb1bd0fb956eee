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
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, ClassVar

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


class Hold:
    """An open ``held`` block: what ended the run meanwhile, and whom to tell at once."""

    def __init__(self) -> None:
        self.notify: Callable[[], None] | None = None


class _Held:
    blocks: ClassVar[list[Hold]] = []  # the ``held`` blocks the main thread is in, innermost last
    ending: RunEnded | None = None  # what came meanwhile


def _end(ending: RunEnded) -> None:
    """Raise ``ending`` now, or, within ``held``, when the outermost block ends."""
    if not _Held.blocks:
        raise ending
    first = _Held.ending is None
    _Held.ending = _Held.ending or ending
    notify = _Held.blocks[-1].notify
    if first and notify is not None:
        notify()


@contextlib.contextmanager
def held() -> Iterator[Hold]:
    """Within the block, a signal or the deadline waits, and the run ends as the block ends;
    the hold's ``notify``, if set, is called at once (to stop what the block waits for).

    For what must not be left half made (a process pool and its workers), and for code in
    which an exception from a signal handler would be lost (asyncio logs and swallows those
    raised inside its callbacks). Masking the signal would not do: any thread may take it.
    """
    hold = Hold()
    _Held.blocks.append(hold)
    try:
        yield hold
    finally:
        _Held.blocks.pop()
        if not _Held.blocks and _Held.ending is not None:
            ending, _Held.ending = _Held.ending, None
            raise ending


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
            _end(Interrupted(signum))

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
        _end(DeadlinePassed(seconds if shown is None else shown))

    previous = signal.signal(signal.SIGALRM, expire)
    outer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer[0] > 0:  # someone else's timer (pytest-timeout, a host program): theirs again
            signal.setitimer(signal.ITIMER_REAL, *outer)


_ON_LEAVE: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []


def on_leave(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Have ``leave_now`` call ``function(*args, **kwargs)`` (atexit handlers do not run then)."""
    _ON_LEAVE.append((function, args, kwargs))


def leave_now(code: int) -> None:
    """End the process with ``code`` without waiting: no MPI_Finalize (a peer may be gone),
    no joining of worker threads (a kernel may never return). Streams are flushed, and
    multiprocessing's own clean-up runs (its temporary folder, the forkserver's socket)."""
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    for function, args, kwargs in reversed(_ON_LEAVE):
        with contextlib.suppress(Exception):
            function(*args, **kwargs)
    if "multiprocessing" in sys.modules:
        import multiprocessing

        # Children still up (a pool interrupted while it started) would make the clean-up
        # below wait for them: they are ours and the run is over.
        for child in multiprocessing.active_children():
            with contextlib.suppress(Exception):
                child.kill()
                child.join(timeout=5)
        exit_function = getattr(sys.modules.get("multiprocessing.util"), "_exit_function", None)
        if exit_function is not None:
            with contextlib.suppress(Exception):
                exit_function()
    os._exit(code)
