"""``--deadline``'s backstop: a run still not over some seconds after its deadline ends hard.

At the deadline the run unwinds by itself (``mpi_lab.endings.interrupts``); that needs the main thread to
run Python again. A rank blocked in MPI (a peer behind a cut link neither answers nor dies, and
TCP can take many minutes to give up) never does, so a timer thread ends it, and its job, a
few seconds later, without relying on the network.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

from mpi_lab.cluster.detect import env_rank, launcher_parent
from mpi_lab.core.errors import DEADLINE_EXIT
from mpi_lab.mpi import comm
from mpi_lab.progress import live_line

_FORWARD = 0.5  # seconds for the launcher to forward the message
_GRACE = 5.0  # seconds MPI_Abort gets before the process ends itself
LATE = 3.0  # seconds after the deadline before the backstop acts
EXIT_CODE = DEADLINE_EXIT


def _end_job() -> None:
    """End this rank and its job without relying on the network.

    MPI_Abort asks mpiexec to end the job, and mpiexec then waits for every daemon to confirm,
    forever if a host is unreachable (seen with Open MPI 5 on a cut link). Killing this rank's
    own launcher daemon needs no network: mpiexec (or the remote daemon) dies at once, the
    other ranks it started follow it (see ``lifeline``), and ranks on other hosts do the same
    when their own deadline passes.
    """
    parent = launcher_parent()
    if parent is not None:
        time.sleep(_FORWARD)  # let the launcher pass our message on before it goes
        with contextlib.suppress(OSError):
            os.kill(parent, signal.SIGKILL)
        os._exit(EXIT_CODE)
    if comm.active():  # launched some other way (srun, singleton): MPI_Abort, with a backstop
        last_resort = threading.Timer(_GRACE, os._exit, args=(EXIT_CODE,))
        last_resort.daemon = True
        last_resort.start()
        comm.abort(EXIT_CODE)
    os._exit(EXIT_CODE)


def _expire(seconds: float) -> None:
    if comm.active():
        where = f"rank {env_rank()} on host {os.uname().nodename}: "
        why = "stuck in a call that does not return: a hung or unreachable rank?"
    else:
        where, why = "", "a kernel that does not return?"
    live_line.abandon()
    sys.stderr.write(
        f"Error: {where}the run was still not over {LATE:g} s after its deadline of"
        f" {seconds:g} s ({why}); ending it\n"
    )
    sys.stderr.flush()
    if comm.active():
        comm.forget_launcher_files()  # the launcher, killed next, cannot
        _end_job()
    os._exit(EXIT_CODE)


@contextlib.contextmanager
def backstop(seconds: float | None) -> Iterator[None]:
    """Within the block, end the process (and the MPI job) ``LATE`` seconds after ``seconds``."""
    if seconds is None:
        yield
        return
    timer = threading.Timer(seconds + LATE, _expire, args=(seconds,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
