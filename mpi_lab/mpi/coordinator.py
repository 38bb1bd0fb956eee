"""Runs a job across MPI ranks: rank 0 plans and scatters, each rank maps its share through its
local backend, rank 0 gathers and combines.

Failure rule: every rank reaches the same collectives whatever happens to its share. A rank
whose share failed says so in its outcome; the outcomes are exchanged with ``allgather``, so
every rank learns of any failure at the same point and all exit with the same code, without
``MPI_Abort``. Anything outside that envelope is left to ``guard``, which aborts the job.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mpi_lab import lifeline, liveline
from mpi_lab import progress as lab_progress
from mpi_lab.backends import Choice
from mpi_lab.backoff import Backoff
from mpi_lab.errors import ConfigError, LabError, RemoteTraceback, WorkerError
from mpi_lab.jobs import Job
from mpi_lab.mpi import ROOT, launch, schedules, tally
from mpi_lab.mpi import comm as mpi_comm
from mpi_lab.mpi.outcome import Outcome, failed, succeeded, where
from mpi_lab.placement import PlanSlots, buffer, one_buffer
from mpi_lab.report import Report
from mpi_lab.results import Results, in_plan_order, pack, unpack
from mpi_lab.results import results as typed_results
from mpi_lab.runner import Chunk, local_cores, plan_slots, resolve, run_share, typecode


class RankFailed(LabError):
    """A failure that every rank knows of and exits on together (no abort needed): raised
    as ``RankConfigError`` (exit 2) or ``RankWorkerError`` (exit 1), so that scripts catch
    it as ``ConfigError`` or ``WorkerError``, as without MPI."""

    agreed = True

    def __init__(self, message: str, exit_code: int, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.remote_traceback = remote_traceback


class RankConfigError(RankFailed, ConfigError):
    """Bad input, found on rank 0 and shared: every rank exits 2."""


class RankWorkerError(RankFailed, WorkerError):
    """A failure of the work on some rank, shared: every rank exits with its code."""


def rank_failed(message: str, exit_code: int, remote_traceback: str = "") -> RankFailed:
    """The agreed failure to raise on every rank, chained to the worker's traceback if any
    (as ``concurrent.futures`` chains ``_RemoteTraceback``)."""
    cls = RankConfigError if exit_code == ConfigError.exit_code else RankWorkerError
    error = cls(message, exit_code, remote_traceback)
    if remote_traceback:
        error.__cause__ = RemoteTraceback(remote_traceback)
    return error


def idle_wait(comm: Any) -> None:
    """A barrier that sleeps instead of spinning.

    Ranks that finish early would otherwise busy-poll inside the next collective and take CPU
    from ranks still computing, which matters when ranks outnumber cores.
    """
    request = comm.Ibarrier()
    backoff = Backoff()
    while not request.Test():
        backoff.sleep()


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


def _fail_together(comm: Any, verdict: tuple[Any, ...] | None) -> None:
    """Rank 0's verdict (exit code, message, and maybe a traceback), shared with every rank:
    all raise it together."""
    verdict = comm.bcast(verdict, root=ROOT)
    if verdict is not None:
        raise rank_failed(verdict[1], verdict[0], *verdict[2:])


def run(
    job: Job,
    backend: str = "auto",
    workers: int | None = None,
    *,
    start_method: str | None = None,
    schedule: str | None = None,
    comm: Any = None,
    check: Callable[[], Any] | None = None,
    progress: bool = False,
) -> Report | None:
    """Run ``job`` on every rank of ``comm``; the report on rank 0, None elsewhere.

    ``check`` runs on rank 0 only, with the plan (e.g. that the output folder exists there).
    ``progress``: rank 0 shows every rank's progress live on stderr (``liveline``).
    """
    schedule = schedule or job.default_schedule
    # The same arguments reach every rank, so every rank refuses these together.
    if schedule not in schedules.SCHEDULES:
        raise rank_failed(f"unknown schedule {schedule!r}", ConfigError.exit_code)
    if start_method == "fork":
        raise rank_failed(
            "start method 'fork' is unsafe once MPI is initialised; use forkserver or spawn",
            ConfigError.exit_code,
        )
    # Progress asks for threads that call MPI, but a run goes on without them if it must.
    needed = "multiple" if schedule == "dynamic" else "funneled"
    comm = comm if comm is not None else mpi_comm.world(
        "multiple" if progress else needed, required=needed
    )
    rank = comm.Get_rank()
    _follow_launcher(rank)
    job.preload()
    lab_progress.start(f"rank {rank}")
    # The clock starts once every rank is up: rank 0 waiting for a late starter in its first
    # collective is start-up, not compute.
    idle_wait(comm)
    started = time.perf_counter()

    count = workers if workers is not None else auto_workers(comm)
    most_workers, shown = agree(comm, count, progress, _multiple())
    collector = tally.Collector(comm) if shown and rank == ROOT else None
    with liveline.shown(job.name, collector.poll if collector is not None else None):
        plan, choice = _plan_on_root(comm, job, backend, most_workers, start_method, check)
        if collector is not None:
            collector.total = len(plan)

        # Rank 0's results stay: in place (if they can be), at their places in the whole plan.
        slots = plan_slots(job, plan) if rank == ROOT else None
        with tally.reporting(comm, shown) as reporter:
            outcome, results = _share(comm, job, plan, schedule, choice.name, count,
                                      start_method, slots)
        if collector is not None:
            collector.finished[ROOT] = True
        elif reporter is not None:
            outcome = dataclasses.replace(outcome, reports=reporter.sent)

        idle_wait(comm)
        outcomes: list[Outcome] = comm.allgather(outcome)
        if collector is not None:
            collector.drain([o.reports for o in outcomes])  # the reports still in flight
        errors = [o.error for o in outcomes if o.error is not None]
        if errors:
            code, message, remote = errors[0]  # the lowest rank's
            raise rank_failed(message, code, remote)

    parts = _gather(comm, job, results, [o.nbytes for o in outcomes])
    answer = None
    verdict = None
    if rank == ROOT:
        try:
            answer = job.combine(_in_plan_order(job, plan, outcomes, results, parts, slots))
        except LabError as exc:
            verdict = (exc.exit_code, str(exc), getattr(exc, "remote_traceback", ""))
    # Rank 0's combine may fail: every rank hears of it and exits with it.
    idle_wait(comm)
    _fail_together(comm, verdict)
    if rank != ROOT:
        return None
    per_rank = [o.report for o in outcomes if o.report is not None]
    return Report.finished(
        job, answer, choice, schedule=schedule, started=started, per_rank=per_rank
    )


def agree(comm: Any, workers: int, progress: bool, able: bool) -> tuple[int, bool]:
    """The most workers any rank runs, and whether progress is shown: as rank 0 wants it
    (``progress``), if every rank is ``able`` to report it (MPI let it start threads that
    call MPI: ranks whose own stderr is no terminal start without, unless asked)."""
    wishes = comm.allgather((workers, progress, able))
    return max(w for w, _, _ in wishes), wishes[ROOT][1] and all(a for _, _, a in wishes)


def _multiple() -> bool:
    """MPI runs with ``MPI_THREAD_MULTIPLE`` (threads may call it beside the main thread)."""
    from mpi4py import MPI

    return bool(MPI.Query_thread() >= MPI.THREAD_MULTIPLE)


def _plan_on_root(comm: Any, job: Job, backend: str, workers: int, start_method: str | None,
                  check: Callable[[], Any] | None) -> tuple[Sequence[Any], Choice]:
    """Rank 0 checks, plans and picks the backend; every rank learns the backend, or the
    error, together. The plan stays on rank 0 (the others get their shares)."""
    plan: Sequence[Any] = []
    choice = None
    verdict = None
    if comm.Get_rank() == ROOT:
        try:
            if check is not None:
                check()
            plan = job.plan()
            choice = resolve(job, backend, workers, start_method)
        except LabError as exc:
            verdict = (exc.exit_code, str(exc))
    _fail_together(comm, verdict)
    return plan, comm.bcast(choice, root=ROOT)


def _in_plan_order(job: Job, plan: Sequence[Any], outcomes: list[Outcome], results: Results,
                   parts: list[Any], slots: PlanSlots | None) -> Results:
    """Every rank's results, in plan order (on rank 0): its own, and the others' parts (put
    in their slots, where rank 0 wrote its own in place)."""
    layout = job.slot_layout(travelling=True)
    others = []
    for other, part in zip(outcomes[1:], parts[1:], strict=True):
        indices = [index for indices in other.ranges for index in indices]
        if layout is not None:  # the bytes it sent, as one typed view per result
            part = unpack(part, (layout(plan[index]) for index in indices))  # noqa: PLW2901
        others.append((other.ranges, indices, part))
    if slots is not None and slots.used:
        for _, indices, views in others:
            for index, view in zip(indices, views, strict=True):
                slots.put(index, view)
        return slots.results()
    pieces = [(outcomes[0].ranges, results), *((ranges, part) for ranges, _, part in others)]
    placed = in_plan_order(len(plan), pieces)
    return typed_results(placed, typecode(job, plan[0] if len(plan) else None))


def _share(comm: Any, job: Job, plan: Sequence[Any], schedule: str, backend: str,
           workers: int, start_method: str | None, slots: PlanSlots | None,
           ) -> tuple[Outcome, list[Any]]:
    """This rank's share of ``plan`` (on rank 0; the others get theirs from it) as
    ``schedule`` hands it out: its outcome and results."""
    if schedule == "dynamic":
        from mpi_lab.mpi import dynamic

        return dynamic.share(comm, job, plan, backend, workers, start_method, slots)
    rank = comm.Get_rank()
    shares = None
    if rank == ROOT:
        shares = [(indices, schedules.take(plan, indices))
                  for indices in schedules.split(len(plan), comm.Get_size(), schedule)]
    return _static_share(job, comm.scatter(shares, root=ROOT), backend, workers, start_method,
                         rank, slots)


def _static_share(job: Job, mine: Chunk, backend: str, workers: int,
                  start_method: str | None, rank: int, slots: PlanSlots | None,
                  ) -> tuple[Outcome, list[Any]]:
    try:
        ranges, results, report = run_share(job, [mine], backend, workers,
                                            start_method=start_method, rank=rank,
                                            travelling=rank != ROOT, plan_slots=slots)
    except LabError as exc:
        return failed(rank, exc), []
    return succeeded(report, ranges, results, job.layout is not None), results


def _gather(comm: Any, job: Job, results: Results, nbytes: list[int]) -> list[Any]:
    """The other ranks' results on rank 0 (rank 0's own stay where they are): with a layout,
    their bytes back to back by ``Gatherv`` into one buffer, else pickles."""
    rank = comm.Get_rank()
    if job.layout is None:
        return comm.gather(None if rank == ROOT else results, root=ROOT) or []
    from mpi4py import MPI

    if rank != ROOT:
        # Results written in place are one buffer already: sent as they are.
        sending = one_buffer(results)
        sending = sending if sending is not None else pack(results)
        comm.Gatherv([sending, MPI.BYTE], None, root=ROOT)
        return []
    counts = [0, *nbytes[1:]]
    view = buffer(sum(counts), job.uses_numpy())
    comm.Gatherv([bytearray(0), MPI.BYTE], [view, counts, MPI.BYTE], root=ROOT)
    bounds = list(itertools.accumulate(counts, initial=0))
    return [view[bounds[r] : bounds[r + 1]] for r in range(len(counts))]
