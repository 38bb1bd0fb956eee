"""Was this process started by an MPI launcher? Decided from the environment, without MPI."""

from __future__ import annotations

import os
from collections.abc import Mapping

from mpi_lab.core import env


def launched() -> bool:
    """True when a launcher started this process as one rank of a job."""
    if env.read(env.SLURM_STEP) and int(env.read(env.SLURM_STEP_TASKS) or "1") > 1:
        return True
    return env.has_any(env.LAUNCHED)


def in_allocation(environ: Mapping[str, str] | None = None) -> bool:
    """This process runs inside a batch system's allocation."""
    return env.has_any(env.ALLOCATION, environ)


def use_mpi(flag: bool | None = None) -> bool:
    """The ``--mpi/--no-mpi`` flag if given, else ``MPI_LAB_MPI``, else launch detection."""
    if flag is not None:
        return flag
    forced = env.switch(env.FORCE_MPI)
    return launched() if forced is None else forced


def env_rank() -> int:
    """This rank's number as the launcher told it (0 when not launched): no MPI call needed.

    Errors found while parsing the command line are the same on every rank; only rank 0
    prints them, and MPI has not started yet then.
    """
    for var in env.RANK:
        value = env.read(var)
        if value.isdigit():
            return int(value)
    return 0


# Launcher daemons that start ranks: the parent of a rank under mpiexec/mpirun.
LAUNCHER_DAEMONS = ("prterun", "prted", "mpiexec", "mpirun", "orted", "hydra_pmi_proxy")


def launcher_parent() -> int | None:
    """This rank's parent if it is an MPI launcher daemon (never, say, a shell or slurmstepd)."""
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/comm") as name:
            return parent if name.read().strip() in LAUNCHER_DAEMONS else None
    except OSError:
        return None
