"""Was this process started by an MPI launcher? Decided from the environment, without MPI."""

from __future__ import annotations

import os
from collections.abc import Mapping

# Variables that mpiexec/mpirun (Open MPI, MPICH/Hydra) or srun (with PMI/PMIx) set in each rank.
LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE")
RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")
FORCE_VAR = "MPI_LAB_MPI"  # 1 to use MPI even without a launcher, 0 never to
# Variables of a batch system's allocation (Slurm, PBS, LSF, Cobalt, Flux).
ALLOCATION_VARS = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "COBALT_JOBID", "FLUX_JOB_ID")


def launched() -> bool:
    """True when a launcher started this process as one rank of a job."""
    if os.environ.get("SLURM_STEP_ID") and int(os.environ.get("SLURM_STEP_NUM_TASKS", "1")) > 1:
        return True
    return any(var in os.environ for var in LAUNCHER_VARS)


def in_allocation(environ: Mapping[str, str] | None = None) -> bool:
    """This process runs inside a batch system's allocation."""
    environ = os.environ if environ is None else environ
    return any(var in environ for var in ALLOCATION_VARS)


def use_mpi(flag: bool | None = None) -> bool:
    """The ``--mpi/--no-mpi`` flag if given, else ``MPI_LAB_MPI``, else launch detection."""
    if flag is not None:
        return flag
    forced = os.environ.get(FORCE_VAR, "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    return launched()


def env_rank() -> int:
    """This rank's number as the launcher told it (0 when not launched): no MPI call needed.

    Errors found while parsing the command line are the same on every rank; only rank 0
    prints them, and MPI has not started yet then.
    """
    for var in RANK_VARS:
        value = os.environ.get(var, "")
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
