"""Unbound ranks that fit their node pin themselves to a fair, disjoint share of its cores.

Open MPI binds each rank to cores only where oversubscription is not allowed. On a
workstation the environment's parameter files allow it (so ``mpiexec -n 8`` runs on 2 cores),
and then no rank is bound at all: the kernel moves ranks between cores, which slows NumPy work
(benchmarks/RESULTS.md). So when the launcher left this rank on every core of the machine and
the node's ranks fit its cores, the rank takes cores ``[r*k, (r+1)*k)`` of them, ``k = cores //
ranks on the node``, before MPI starts (its threads then inherit it). Ranks that outnumber the
cores stay unbound, as Open MPI leaves them. ``MPI_LAB_PIN=0`` turns this off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PIN_ENV = "MPI_LAB_PIN"
# (local rank, ranks on this node) as Open MPI and MPICH's Hydra tell each rank.
LOCAL_VARS = (
    ("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"),
    ("MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
)


def share(cpus: list[int], local_rank: int, local_size: int) -> list[int] | None:
    """This rank's cores of ``cpus``, or None when the ranks do not fit (or need no split)."""
    if not 1 < local_size <= len(cpus) or not 0 <= local_rank < local_size:
        return None
    per_rank = len(cpus) // local_size
    return cpus[local_rank * per_rank : (local_rank + 1) * per_rank]


def local_position(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """(local rank, ranks on this node) from the launcher's variables, if it set them."""
    for rank_var, size_var in LOCAL_VARS:
        rank, size = environ.get(rank_var, ""), environ.get(size_var, "")
        if rank.isdigit() and size.isdigit():
            return int(rank), int(size)
    return None


def pin(environ: Mapping[str, str] | None = None) -> list[int] | None:
    """Pin this process to its share of the node's cores if it is unbound; the cores, or None."""
    environ = os.environ if environ is None else environ
    if environ.get(PIN_ENV, "").strip().lower() in ("0", "no", "false"):
        return None
    position = local_position(environ)
    if position is None or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) != os.cpu_count():
        return None  # the launcher (or a batch system) has bound it already
    mine = share(cpus, *position)
    if mine is not None:
        os.sched_setaffinity(0, mine)
    return mine
