"""Unbound ranks that fit their node pin themselves to a fair, disjoint share of its cores.

Open MPI binds each rank to cores only where oversubscription is not allowed. On a
workstation the environment's parameter files allow it (so ``mpiexec -n 8`` runs on 2 cores),
and then no rank is bound at all: the kernel moves ranks between cores, which slows NumPy work
(benchmarks/RESULTS.md). So when the launcher left this rank on every CPU the node gives us and
the node's ranks fit its cores, the rank takes its share of whole cores (hardware threads of a
core stay together), before MPI starts, so that the library's threads inherit it. Ranks that
outnumber the CPUs stay unbound, as Open MPI leaves them; so do ranks inside a batch
allocation, whose scheduler may have given the node's other CPUs to someone else.
``MPI_LAB_PIN=0`` turns this off (``mpiexec --bind-to none`` alone cannot: ranks are not told).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from itertools import groupby
from pathlib import Path

from mpi_lab.cluster.detect import in_allocation
from mpi_lab.core import env

SYS_CPU = Path("/sys/devices/system/cpu")


def parse_cpu_list(text: str) -> list[int]:
    """``0-3,8,10-11`` as a list of CPU numbers."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _cgroup_cpuset() -> list[int] | None:
    """The CPUs of this process's cgroup (a container's or a batch job's), if it has a cpuset."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2 (or the unified half of a hybrid set-up)
            for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                candidates.append(Path(root, relative, "cpuset.cpus.effective"))
        elif "cpuset" in controllers.split(","):
            candidates.append(Path("/sys/fs/cgroup/cpuset", relative, "cpuset.effective_cpus"))
    for candidate in candidates:
        try:
            cpus = parse_cpu_list(candidate.read_text())
        except (OSError, ValueError):
            continue
        if cpus:
            return cpus
    return None


def node_cpus() -> list[int]:
    """The CPUs this node gives us: the cgroup's cpuset (a container, a job), else every online
    CPU of the machine."""
    cpuset = _cgroup_cpuset()
    if cpuset:
        return cpuset
    try:
        return parse_cpu_list((SYS_CPU / "online").read_text())
    except (OSError, ValueError):
        return list(range(os.cpu_count() or 1))


def _core_of(cpu: int) -> tuple[int, int]:
    """(package, core) of a CPU, so that a core's hardware threads sort together."""
    topology = SYS_CPU / f"cpu{cpu}" / "topology"
    try:
        return (int((topology / "physical_package_id").read_text()),
                int((topology / "core_id").read_text()))
    except (OSError, ValueError):
        return (0, cpu)


def share(cpus: list[int], local_rank: int, local_size: int,
          core_of: Callable[[int], tuple[int, int]] = _core_of) -> list[int] | None:
    """This rank's CPUs of ``cpus``: whole cores, split as evenly as they go (the first ranks
    take one more when they do not divide); None when the ranks do not fit or need no split."""
    if not 1 < local_size <= len(cpus) or not 0 <= local_rank < local_size:
        return None
    ordered = sorted(cpus, key=lambda cpu: (*core_of(cpu), cpu))
    cores = [list(threads) for _, threads in groupby(ordered, key=core_of)]
    units = cores if local_size <= len(cores) else [[cpu] for cpu in ordered]
    per_rank, extra = divmod(len(units), local_size)
    start = local_rank * per_rank + min(local_rank, extra)
    mine = units[start : start + per_rank + (1 if local_rank < extra else 0)]
    return sorted(cpu for unit in mine for cpu in unit)


def local_position(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """(local rank, ranks on this node) from the launcher's variables, if it set them."""
    for rank_var, size_var in env.LOCAL_RANK:
        rank, size = env.read(rank_var, environ), env.read(size_var, environ)
        if rank.isdigit() and size.isdigit():
            return int(rank), int(size)
    return None


def pin(environ: Mapping[str, str] | None = None) -> list[int] | None:
    """Pin this process to its share of the node's cores if it is unbound; the CPUs, or None."""
    environ = os.environ if environ is None else environ
    if env.switch(env.PIN, environ) is False:
        return None
    position = local_position(environ)
    if (position is None or not hasattr(os, "sched_setaffinity")
            or in_allocation(environ)):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if cpus != sorted(node_cpus()):
        return None  # the launcher has bound it already
    mine = share(cpus, *position)
    if mine is not None:
        os.sched_setaffinity(0, mine)
    return mine
