"""How a run ends when it does not finish: a signal or the deadline, turned into one exception.

Within a run (``run_ends``, which the run frame enters wherever the run was started: the CLI, a
script, a notebook), SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, Slurm's ``scancel`` and
time limit) and SIGHUP raise ``Interrupted`` in the main thread, and the deadline raises
``DeadlinePassed`` there (through SIGALRM), so the run unwinds as from an error: pools end
their workers, blocks close. The exception carries the exit code the CLI ends with:

    interrupted (SIGINT) 130    terminated (SIGTERM) 143    hung up (SIGHUP) 129    deadline 124

Both derive from ``BaseException``, like ``KeyboardInterrupt``: a kernel's ``except Exception``
does not swallow them. Should the run be stuck where Python never runs again (a collective with
a lost rank), the deadline's backstop (``mpi.watchdog``) ends the process a little later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any, ClassVar

from mpi_lab.core.errors import ConfigError, DeadlinePassed, Interrupted, RunEnded
from mpi_lab.core.protocol import ROOT
from mpi_lab.progress import meter

SIGNALS = {signal.SIGINT: "Interrupted", signal.SIGTERM: "Terminated", signal.SIGHUP: "Hung up"}
RANKS_AFTER_ROOT = 0.5  # seconds: other ranks' deadline passes after rank 0's

# Where the run stands, for the line that says how it ended: this process's meter unless the
# run says more (under MPI, rank 0 knows what every rank is on).
Standing = Callable[[], str]


def _meter_standing() -> str:
    now = meter.current()
    joint = ": " if now.owner else " "
    return joint + now.summary()


class _Now:
    standing: Standing = _meter_standing


@contextlib.contextmanager
def standing(teller: Standing) -> Iterator[None]:
    """Within the block, the ending's line says where the run stands as ``teller`` does
    (``": rank 1 ... on item 57"``, starting with its joint)."""
    before, _Now.standing = _Now.standing, teller
    try:
        yield
    finally:
        _Now.standing = before


def _where() -> str:
    try:
        return _Now.standing()
    except Exception:  # noqa: BLE001 - a line must come out, whatever the teller does
        return _meter_standing()


def interrupted(signum: int) -> Interrupted:
    name = signal.Signals(signum).name
    started = meter.current().started
    return Interrupted(signum, f"{SIGNALS.get(signum, 'Stopped')} ({name}) after"
                               f" {time.monotonic() - started:.1f} s{_where()}")


def deadline_passed(seconds: float) -> DeadlinePassed:
    return DeadlinePassed(seconds, f"Error: deadline of {seconds:g} s passed{_where()};"
                                   " ending the run")


class Hold:
    """An open ``held`` block: what ended the run meanwhile, and whom to tell at once."""

    def __init__(self) -> None:
        self.notify: Callable[[], None] | None = None


class _Held:
    blocks: ClassVar[list[Hold]] = []  # the ``held`` blocks the main thread is in, innermost last
    ending: BaseException | None = None  # what came meanwhile


def stop(ending: BaseException) -> None:
    """Raise ``ending`` in the main thread now (call it from a signal handler), or, within
    ``held``, when the outermost block ends. A run's end (``RunEnded``) wins over anything
    else waiting there."""
    if not _Held.blocks:
        raise ending
    first = _Held.ending is None
    if first or (isinstance(ending, RunEnded) and not isinstance(_Held.ending, RunEnded)):
        _Held.ending = ending
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


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_end_the_run() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` (once: a second signal
    while the run unwinds is ignored, so that the clean-up finishes). A signal this process
    was told to ignore (a background job's SIGINT, ``nohup``'s SIGHUP) stays ignored."""
    if not in_main_thread():
        yield
        return
    stopped = False

    def end(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            stop(interrupted(signum))

    previous = {sig: signal.signal(sig, end) for sig in SIGNALS
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def deadline(seconds: float | None, shown: float | None = None) -> Iterator[None]:
    """Within the block, raise ``DeadlinePassed`` in the main thread once ``seconds`` have
    passed (the message names ``shown``, the user's deadline, if given)."""
    if seconds is None or not in_main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        stop(deadline_passed(seconds if shown is None else shown))

    previous = signal.signal(signal.SIGALRM, expire)
    outer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer[0] > 0:  # someone else's timer (pytest-timeout, a host program): theirs again
            signal.setitimer(signal.ITIMER_REAL, *outer)


@contextlib.contextmanager
def run_ends(seconds: float | None, rank: int = 0,
             backstop: Callable[[float], contextlib.AbstractContextManager[Any]] | None = None,
             ) -> Iterator[None]:
    """Within the block (a run), signals end it, and so does the deadline of ``seconds``, with
    its ``backstop`` (the run frame gives ``mpi.watchdog``'s, which can end an MPI job). Rank 0 ends first and says why; the launcher then ends the others, whose
    own deadline comes a moment later (ranks start, and so time, a few ms apart). A deadline
    needs the main thread (SIGALRM reaches only it): elsewhere it is refused."""
    if seconds is not None and not in_main_thread():
        raise ConfigError("a deadline needs the main thread (it is a SIGALRM timer); this run"
                          f" was started in thread {threading.current_thread().name!r}")
    with contextlib.ExitStack() as guards:
        guards.enter_context(signals_end_the_run())
        if seconds is not None:
            # First the run unwinds by itself; should it be stuck in a call that never
            # returns to Python (a collective with a lost rank), the backstop ends it.
            if backstop is not None:
                guards.enter_context(backstop(seconds))
            late = 0.0 if rank == ROOT else RANKS_AFTER_ROOT
            guards.enter_context(deadline(seconds + late, shown=seconds))
        yield


class _Uncaught:
    hooked = False
    cli = False  # the command line runs this process: its rules end it, not a script's


def cli_takes_charge() -> None:
    """Say the command line (``python -m mpi_lab``) runs this process and ends it by its rules."""
    _Uncaught.cli = True


def cli_in_charge() -> bool:
    """The command line runs this process (its exit rules hold, not a script's)."""
    return _Uncaught.cli


def end_scripts_alike() -> None:
    """From a script's first run on: a run's end that no one catches ends the script as it
    ends the command line (the line, the exit code: 130, 143, 124; nothing left behind),
    where Python would print a traceback and exit 1. Any other exception is Python's to
    report, as before. (The command line catches its own: it needs none of this.)"""
    if _Uncaught.hooked or _Uncaught.cli:
        return
    _Uncaught.hooked = True
    original = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if isinstance(value, RunEnded):
            from mpi_lab.cluster.detect import env_rank

            if env_rank() == ROOT:  # under MPI each rank ends so: rank 0 says how
                sys.stderr.write(value.line + "\n")
            leave_now(value.exit_code)
        original(kind, value, tb)

    sys.excepthook = hook


_ON_LEAVE: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []


def on_leave(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Have ``leave_now`` call ``function(*args, **kwargs)`` (atexit handlers do not run then)."""
    _ON_LEAVE.append((function, args, kwargs))


def leave_now(code: int) -> None:
    """End the process with ``code`` without waiting: no MPI_Finalize (a peer may be gone),
    no joining of worker threads (a kernel may never return). Streams are flushed, and
    multiprocessing's own clean-up runs (its temporary folder, the forkserver's socket)."""
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
