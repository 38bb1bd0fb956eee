"""``--deadline``: a run still going after N seconds ends, on every rank, instead of hanging.

MPI itself may wait forever: a peer behind a cut link neither answers nor dies, and TCP can take
many minutes to give up. Each rank arms its own timer (every rank has the same arguments), so
the job ends even when ranks cannot reach one another any more.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

from mpi_lab.mpi import comm
from mpi_lab.mpi.launch import env_rank, launcher_parent

_FORWARD = 0.5  # seconds for the launcher to forward the deadline message
_GRACE = 5.0  # seconds MPI_Abort gets before the process ends itself
EXIT_CODE = 1


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
        backstop = threading.Timer(_GRACE, os._exit, args=(EXIT_CODE,))
        backstop.daemon = True
        backstop.start()
        comm.abort(EXIT_CODE)
    os._exit(EXIT_CODE)


def _expire(seconds: float) -> None:
    rank = env_rank()
    sys.stderr.write(
        f"Error: rank {rank} on host {os.uname().nodename}: deadline of {seconds:g} s passed"
        " before the run finished (a hung or unreachable rank?); ending the job\n"
    )
    sys.stderr.flush()
    _end_job()


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Within the block, end the process (and the MPI job) once ``seconds`` have passed."""
    if seconds is None:
        yield
        return
    timer = threading.Timer(seconds, _expire, args=(seconds,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
