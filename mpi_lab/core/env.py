"""Every environment variable mpi_lab reads, named in one place, and the one way to read them.

The lab's own (each also documented in ``docs/reference.md``):

    MPI_LAB_MPI           1: use MPI without a launcher; 0: never (default: when launched)
    MPI_LAB_PIN           0: do not pin ranks to cores
    MPI_LAB_WORKSTATION   1/0: this machine is a workstation, or a cluster node (MCA files)
    MPI_LAB_FAULT         faults injected by the tests (``core.faults``)
    MPI_LAB_DONE_FILE     a file the CLI writes when it is done (the tests' end marker)

The others are the launchers' and schedulers' (read, never set by the lab), but for numba's
cache folder, which the compiled kernels default to the user's cache (``set_default``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

FORCE_MPI = "MPI_LAB_MPI"
PIN = "MPI_LAB_PIN"
WORKSTATION = "MPI_LAB_WORKSTATION"
FAULT = "MPI_LAB_FAULT"
DONE_FILE = "MPI_LAB_DONE_FILE"

# Set in every process a launcher starts: this process is one rank of a job.
LAUNCHED = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE")
# This process's rank, as launchers and Slurm name it.
RANK = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")
# (local rank, ranks on this node) as Open MPI and MPICH's Hydra tell each rank.
LOCAL_RANK = (("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"),
              ("MPI_LOCALRANKID", "MPI_LOCALNRANKS"))
# Set inside a batch allocation of a scheduler.
ALLOCATION = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "COBALT_JOBID", "FLUX_JOB_ID")
SLURM_STEP = "SLURM_STEP_ID"
SLURM_STEP_TASKS = "SLURM_STEP_NUM_TASKS"
SLURM_CPUS_PER_TASK = "SLURM_CPUS_PER_TASK"
OMPI_SESSION = "OMPI_FILE_LOCATION"  # the rank's Open MPI session folder
PMIX_SESSION = "PMIX_SERVER_TMPDIR"  # the launcher daemon's session folder
NUMBA_CACHE = "NUMBA_CACHE_DIR"  # where numba keeps compiled functions
XDG_CACHE = "XDG_CACHE_HOME"  # the user's cache folder (default ~/.cache)


def read(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of ``name`` (``""`` if unset), in ``environ`` or this process's environment."""
    return (os.environ if environ is None else environ).get(name, "")


def has_any(names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> bool:
    """Any of ``names`` is set."""
    current = os.environ if environ is None else environ
    return any(name in current for name in names)


def switch(name: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """A yes/no variable: True (1, yes, true, on), False (0, no, false, off), None otherwise."""
    value = read(name, environ).strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    return None


def set_default(name: str, value: str) -> None:
    """Set ``name`` unless it is set: for this process and those it starts (worker processes
    see the same value)."""
    os.environ.setdefault(name, value)
