"""Runs a job across MPI ranks: rank 0 plans and scatters, each rank maps its share through its
local backend, rank 0 gathers and combines.

Failure rule: every rank reaches the same collectives whatever happens to its share. A rank
whose share failed says so in its outcome; the outcomes are exchanged with ``allgather``, so
every rank learns of any failure at the same point and all exit with the same code, without
``MPI_Abort``. Anything outside that envelope is left to ``guard``, which aborts the job.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mpi_lab import backends, lifeline, progress
from mpi_lab.errors import ConfigError, LabError
from mpi_lab.jobs import Job
from mpi_lab.mpi import comm as mpi_comm
from mpi_lab.mpi import launch, schedules
from mpi_lab.mpi.outcome import Outcome, failed, succeeded, where
from mpi_lab.runner import Report, local_cores, run_share

ROOT = 0
# Seconds between tests of a pending barrier: short at first (a balanced peer is usually a
# moment behind, and each wasted ms counts in `seconds`), doubling up to a cap that costs
# the ranks still computing next to no CPU.
_IDLE_POLL_FIRST = 0.0001
_IDLE_POLL_MAX = 0.002


class RankFailed(LabError):
    """A failure that every rank knows of and exits on together (no abort needed)."""

    agreed = True

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def idle_wait(comm: Any) -> None:
    """A barrier that sleeps instead of spinning.

    Ranks that finish early would otherwise busy-poll inside the next collective and take CPU
    from ranks still computing, which matters when ranks outnumber cores.
    """
    request = comm.Ibarrier()
    pause = _IDLE_POLL_FIRST
    while not request.Test():
        time.sleep(pause)
        pause = min(2 * pause, _IDLE_POLL_MAX)


def auto_workers(comm: Any) -> int:
    """Cores of this node divided by the ranks on this node, at least 1.

    Capped by the cores this rank may run on (a launcher may bind it to one core, and more
    workers would only take turns on it), and in a Slurm job by the CPUs each task was given.
    """
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        local_ranks = node.Get_size()
    finally:
        node.Free()
    return share_of_node(local_ranks)


def share_of_node(local_ranks: int, environ: Mapping[str, str] | None = None) -> int:
    """This rank's share of the CPUs its node gives us (a container's or job's cpuset, else
    the machine's), when ``local_ranks`` ranks run there."""
    from mpi_lab.mpi.pinning import node_cpus

    environ = os.environ if environ is None else environ
    count = min(len(node_cpus()) // local_ranks, local_cores())
    per_task = environ.get("SLURM_CPUS_PER_TASK", "")
    if per_task.isdigit():
        count = min(count, int(per_task))
    return max(1, count)


@functools.cache  # one watcher per process, however many runs it makes
def _follow_launcher(rank: int) -> None:
    """End this rank if its launcher daemon dies (e.g. mpiexec gave up on a lost host)."""
    parent = launch.launcher_parent()
    if parent is not None:
        # A dead launcher cannot remove the MPI library's files (shared memory, session): we do.
        lifeline.exit_with(parent, f"Error: {where(rank)}: the MPI launcher is gone; ending",
                           before=mpi_comm.forget_launcher_files)


def _fail_together(comm: Any, verdict: tuple[int, str] | None) -> None:
    """Rank 0's verdict on the configuration, shared with every rank."""
    verdict = comm.bcast(verdict, root=ROOT)
    if verdict is not None:
        raise RankFailed(verdict[1], verdict[0])


def run(
    job: Job,
    backend: str = "auto",
    workers: int | None = None,
    *,
    start_method: str | None = None,
    schedule: str = "block",
    comm: Any = None,
    check: Callable[[], Any] | None = None,
) -> Report | None:
    """Run ``job`` on every rank of ``comm``; the report on rank 0, None elsewhere.

    ``check`` runs on rank 0 only, with the plan (e.g. that the output folder exists there).
    """
    # The same arguments reach every rank, so every rank refuses these together.
    if schedule not in schedules.SCHEDULES:
        raise RankFailed(f"unknown schedule {schedule!r}", ConfigError.exit_code)
    if start_method == "fork":
        raise RankFailed(
            "start method 'fork' is unsafe once MPI is initialised; use forkserver or spawn",
            ConfigError.exit_code,
        )
    comm = comm if comm is not None else mpi_comm.world(
        "multiple" if schedule == "dynamic" else "funneled"
    )
    rank, size = comm.Get_rank(), comm.Get_size()
    _follow_launcher(rank)
    job.preload()
    progress.start(f"rank {rank}")
    # The clock starts once every rank is up: ranks start a few ms apart (up to 20 ms here),
    # and rank 0 waiting for a late starter in its first collective is start-up, not compute.
    idle_wait(comm)
    started = time.perf_counter()

    from mpi4py import MPI

    count = workers if workers is not None else auto_workers(comm)
    most_workers = comm.allreduce(count, op=MPI.MAX)
    items: list[Any] = []
    choice = None
    verdict = None
    if rank == ROOT:
        try:
            job.check()
            if check is not None:
                check()
            items = job.plan()
            choice = backends.resolve(backend, job.kernel, most_workers, start_method)
        except LabError as exc:
            verdict = (exc.exit_code, str(exc))
    _fail_together(comm, verdict)
    choice = comm.bcast(choice, root=ROOT)

    if schedule == "dynamic":
        from mpi_lab.mpi import dynamic

        outcome, part = dynamic.run_share(comm, job, items, choice.name, count, start_method)
        shares = None
    else:
        shares = schedules.split(items, size, schedule) if rank == ROOT else None
        mine = comm.scatter(shares, root=ROOT)
        outcome, part = _run_static_share(job, mine, choice.name, count, start_method, rank)

    idle_wait(comm)
    outcomes: list[Outcome] = comm.allgather(outcome)
    errors = [o.error for o in outcomes if o.error is not None]
    if errors:
        code, message = errors[0]  # the lowest rank's
        raise RankFailed(message, code)

    parts = _gather_parts(comm, job, part, [o.elements for o in outcomes])
    if rank != ROOT:
        return None
    if shares is None:
        from mpi_lab.mpi.dynamic import Chunks

        shares = [Chunks(o.items or []) for o in outcomes]
    answer = job.combine(shares, parts)
    per_rank = [o.report for o in outcomes if o.report is not None]
    return Report.finished(
        job, answer, choice, schedule=schedule, started=started, per_rank=per_rank
    )


def _run_static_share(
    job: Job, mine: Sequence[Any], backend: str, workers: int, start_method: str | None,
    rank: int,
) -> tuple[Outcome, Any]:
    try:
        # Rank 0's part stays with it: its bands go straight into the whole result (when its
        # workers share its memory); the other ranks' rows arrive by Gatherv and one copy.
        part, report = run_share(
            job, mine, backend, workers, start_method=start_method, rank=rank, whole=rank == ROOT
        )
    except LabError as exc:
        return failed(rank, exc), None
    return succeeded(job, report, part), part


def _gather_parts(comm: Any, job: Job, part: Any, elements: list[int]) -> list[Any] | None:
    """Every rank's part on rank 0: rows of ``job.wire_dtype`` by ``Gatherv`` into one buffer,
    else pickles.

    Rank 0's own part stays where it is (it may already be the whole fractal): it sends
    nothing, and only the other ranks' rows are received.
    """
    if not job.part_is_buffer:
        return comm.gather(part, root=ROOT)
    import numpy as np

    if comm.Get_rank() != ROOT:
        comm.Gatherv(np.ascontiguousarray(part, dtype=job.wire_dtype).ravel(), None, root=ROOT)
        return None
    counts = [0, *elements[1:]]
    received = np.empty(sum(counts), dtype=job.wire_dtype)
    comm.Gatherv(np.empty(0, dtype=job.wire_dtype), (received, counts), root=ROOT)
    bounds = np.cumsum([0, *counts])
    return [part, *(received[bounds[r] : bounds[r + 1]] for r in range(1, len(counts)))]
