"""A script under ``mpiexec`` never leaves the job hanging, however one of its ranks ends.

The command line (``python -m mpi_lab``) makes exactly one run and keeps its own rule
(``abort_rule``, which says it is in charge). A script that calls ``mpi_lab.run`` has more ways
to go wrong between runs, and from its first run under MPI these rules hold for it, as
``python -m mpi4py`` gives them:

- an exception no one catches, on any rank: its traceback is printed once (that rank's) and
  ``MPI_Abort`` ends the job; one that every rank raised together (a failure the ranks agreed
  on) is printed by rank 0 alone, and every rank exits;
- a rank whose script ends (or fails) while others still make runs: at exit it tells rank 0
  (rank 0 tells every rank); a rank waiting for it at the start of a run hears of it and fails
  in one line instead of waiting for ever; at exit each rank waits for the others' word, as
  ``MPI_Finalize`` would, but by messages of its own tag that no run can take for its own.
"""

from __future__ import annotations

import atexit
import sys
import time
from array import array
from types import TracebackType
from typing import Any, ClassVar

from mpi_lab.core.backoff import Backoff
from mpi_lab.core.errors import UNCAUGHT_EXIT, LabError, RunEnded
from mpi_lab.core.protocol import ROOT, TAG_LEAVING
from mpi_lab.endings import interrupts
from mpi_lab.mpi import comm as mpi_comm


class _State:
    installed = False
    aborting = False
    runs = 0  # runs this rank has started
    heard: ClassVar[set[int]] = set()  # ranks whose word this rank has received
    broken = ""  # why no further run can start here


def install(comm: Any) -> None:
    """From the first run of a script under MPI on: its exit rules (once per process)."""
    if interrupts.cli_in_charge() or _State.installed:
        return
    _State.installed = True
    original = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        _uncaught(comm, original, kind, value, tb)

    sys.excepthook = hook
    atexit.register(_leave, comm)


def _uncaught(comm: Any, original: Any, kind: type[BaseException], value: BaseException,
              tb: TracebackType | None) -> None:
    rank = comm.Get_rank()
    if not mpi_comm.active() or isinstance(value, RunEnded):
        # A run's end: every rank ends so (the launcher's signal reaches them all; each has
        # the deadline), as ``endings.end_scripts_alike`` has it.
        original(kind, value, tb)
        return
    if isinstance(value, LabError) and value.agreed:
        if rank == ROOT:  # every rank has it: once is enough
            original(kind, value, tb)
        return  # every rank exits, and leaves together
    original(kind, value, tb)
    _State.aborting = True
    mpi_comm.abort(UNCAUGHT_EXIT)


def broken() -> str:
    """Why no run can start on this rank any more ("" if one can)."""
    return _State.broken


def mark_broken(why: str) -> None:
    """No further run can start here (the last one ended half way, or a peer has left)."""
    _State.broken = _State.broken or why


def started_run() -> None:
    """Count a run this rank starts (a peer's leaving names the run it was missed in)."""
    _State.runs += 1


def check(comm: Any) -> None:
    """At the start of a run: a ``LabError`` if a rank this one waits for has left (rank 0
    hears of any, the others of rank 0)."""
    from mpi4py import MPI

    if interrupts.cli_in_charge():
        return
    status = MPI.Status()
    source = MPI.ANY_SOURCE if comm.Get_rank() == ROOT else ROOT
    if comm.Iprobe(source=source, tag=TAG_LEAVING, status=status):
        left = status.Get_source()
        runs = _receive(comm, left)
        rank = comm.Get_rank()
        why = (f"rank {left} has ended (its script finished or failed after {runs} run"
               f"{'s' if runs != 1 else ''}) while rank {rank} waits for it in run"
               f" {_State.runs}: every rank must make the same mpi_lab.run calls")
        mark_broken(why)
        raise LabError(why)


def _receive(comm: Any, source: int) -> int:
    from mpi4py import MPI

    word = array("q", [0])
    comm.Recv([word, MPI.INT64_T], source=source, tag=TAG_LEAVING)
    _State.heard.add(source)
    return word[0]


def _leave(comm: Any) -> None:
    """At exit: tell rank 0 (rank 0: every rank) that this rank is leaving after its runs,
    then wait for the word of those it must hear from. Messages only: a collective here
    could match a run's on a rank that is still making runs."""
    if _State.aborting or not mpi_comm.active():
        return
    from mpi4py import MPI

    rank, size = comm.Get_rank(), comm.Get_size()
    word = array("q", [_State.runs])
    others = range(1, size) if rank == ROOT else (ROOT,)
    sends = [comm.Isend([word, MPI.INT64_T], dest=other, tag=TAG_LEAVING) for other in others]
    backoff = Backoff()
    for other in others:
        while other not in _State.heard:
            if comm.Iprobe(source=other, tag=TAG_LEAVING):
                _receive(comm, other)
            else:
                backoff.sleep()
    started = time.monotonic()
    while not MPI.Request.Testall(sends) and time.monotonic() - started < 5:
        backoff.sleep()
