"""Runs a job's items on one process through a backend: a rank's share, or a run without MPI."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mpi_lab import backends, faults
from mpi_lab import progress as lab_progress
from mpi_lab.backends._base import Backend  # every run needs it: loaded before the clock
from mpi_lab.errors import ConfigError, KernelFailed, RemoteTraceback, WorkerError
from mpi_lab.guarded import Guarded, fitted, import_paths, module_of
from mpi_lab.jobs import Job
from mpi_lab.placement import PlanSlots, back_to_back
from mpi_lab.report import RankReport, Report
from mpi_lab.results import Results
from mpi_lab.results import results as typed_results

Chunk = tuple[range, Sequence[Any]]  # plan indices, and the items at them


def local_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Numbered(Sequence[tuple[int, Any]]):
    """``(index, item)`` for the items of a chunk, made as they are taken: a kernel's failure
    can then name the item's place in the plan."""

    def __init__(self, indices: range, items: Sequence[Any]) -> None:
        self.indices = indices
        self.items = items

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, at: Any) -> Any:
        if isinstance(at, slice):
            return [self[k] for k in range(*at.indices(len(self)))]
        return self.indices[at], self.items[at]

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return zip(self.indices, self.items, strict=True)


def resolve(job: Job, backend: str, workers: int, start_method: str | None) -> backends.Choice:
    """The backend for ``job``: what its kernels need (NumPy, or living in ``__main__``)."""
    in_main = job.in_main()
    choice = backends.resolve(backend, job.uses_numpy(), workers, start_method,
                              in_main=in_main, workload=job.name)
    if in_main:  # only then: loading the backend's class costs time in the clock
        job.check_reachable(choice.name, backends.backend_class(choice.name).in_process)
    return choice


def map_items(pool: Backend, kernel: Guarded, tasks: Numbered, job: Job,
              into: dict[int, memoryview] | None = None, travelling: bool = False) -> list[Any]:
    """``pool.map`` with worker failures turned into ``WorkerError`` naming item and cause;
    the results are counted on this process's progress meter, and typed if the workload
    declares their layout. ``into``: each item's slot, which the kernel writes its result
    into (in-process workers)."""
    if not tasks:
        return []
    meter = lab_progress.current()
    meter.plan(len(tasks))
    # Results that cross a process boundary anyway travel as narrow as the layout allows.
    layout = job.slot_layout(travelling or not pool.in_process)
    if into is not None:
        kernel = Guarded(kernel.kernel, kernel.paths, into)
    try:
        values = pool.map(kernel, tasks, meter.advance,
                          layout=None if layout is None else lambda task: layout(task[1]))
        if layout is not None and kernel.slots is None:
            values = [fitted(value, layout(item), index, item)
                      for (index, item), value in zip(tasks, values, strict=True)]
    except KernelFailed as exc:
        raise WorkerError(f"worker failed on {exc}", exc.remote_traceback) \
            from RemoteTraceback(exc.remote_traceback)
    except Exception as exc:
        # Imported here: concurrent.futures costs start-up time that serial runs do not need.
        from concurrent.futures import BrokenExecutor

        if isinstance(exc, BrokenExecutor):  # e.g. BrokenProcessPool: a worker process died
            raise WorkerError(f"a worker process died: {exc}") from exc
        if not pool.in_process and "pickle" in str(exc):  # on the way to a worker or back
            raise ConfigError(
                f"{job.name}: backend {pool.name!r} sends items and results between processes"
                f" or interpreters, and these cannot be pickled ({type(exc).__name__}: {exc});"
                " use an in-process backend (threads, thread-pool, asyncio)"
            ) from exc
        raise
    return values


def _probe(pool: Backend, job: Job, kernel: Guarded, task: tuple[int, Any]) -> None:
    """Fail at once, saying why, if a subinterpreter cannot load the kernel or an item."""
    import pickle

    from mpi_lab.guarded import probe

    (why,) = pool.map(probe, [pickle.dumps((kernel, task))])
    if why:
        raise ConfigError(
            f"{job.name}: a subinterpreter cannot load its kernel or items ({why}); if its"
            " module imports NumPy, say so (needs_numpy = True: auto then picks threads), or"
            " choose another backend"
        )


def rank_kernel(job: Job, rank: int = 0) -> Guarded:
    """The job's kernel as this rank runs it: guarded, reachable from every worker, and
    faulty if a test asked for that."""
    return Guarded(faults.inject(job.kernel, rank), import_paths(job.kernel))


def run_share(job: Job, chunks: Iterable[Chunk], backend: str, workers: int, *,
              start_method: str | None = None, rank: int = 0, travelling: bool = False,
              plan_slots: PlanSlots | None = None,
              ) -> tuple[list[range], Results, RankReport]:
    """Map the kernel over every chunk this rank is given (its static share, or dynamic
    chunks as they come); its ranges and results, in the order it ran them, and its report.

    Where the kernel can write in place and the workers share this process, results go
    into ``plan_slots`` (the whole plan's, for results that stay here), or else each
    chunk's back to back into a buffer. ``travelling``: the results go to another rank, in
    the layout's wire typecode if it has one.
    """
    started = time.perf_counter()
    ranges: list[range] = []
    values: list[Any] = []
    with backends.create(backend, workers, start_method=start_method) as pool:
        kernel = rank_kernel(job, rank)
        # Subinterpreter backends are probed before the first chunk (the lab's own workloads
        # are known to load there, and the probe would delay a second worker's start).
        probed = pool.runs_numpy or module_of(kernel.kernel).startswith("mpi_lab.")
        in_place = pool.in_process and job.writes_in_place
        numpy = job.uses_numpy()
        first = None
        for indices, items in chunks:
            if first is None and len(items):
                first = items[0]
            if not probed and len(items):
                _probe(pool, job, kernel, (indices[0], items[0]))
                probed = True
            tasks = Numbered(indices, items)
            into = None
            if in_place:
                into = plan_slots.slots(indices) if plan_slots is not None else \
                    back_to_back(job.slot_layout(travelling), tasks, numpy)
            values.extend(map_items(pool, kernel, tasks, job, into, travelling))
            ranges.append(indices)
    # The workers the backend really runs (serial has one, whatever was asked).
    report = RankReport.since(started, rank=rank, workers=pool.workers, items=len(values))
    return ranges, typed_results(values, typecode(job, first)), report


def plan_slots(job: Job, plan: Sequence[Any]) -> PlanSlots | None:
    """Slots for every result of ``plan``, if its kernel writes in place (used only where
    the workers share this process)."""
    if not job.writes_in_place:
        return None
    return PlanSlots(job.slot_layout(travelling=False), plan, job.uses_numpy())


def typecode(job: Job, item: Any) -> str | None:
    """The typecode the layout declares for results (as of ``item``'s), for
    ``Results.flat``."""
    if job.layout is None or item is None:
        return None
    return str(job.layout(item)[0])


def run_local(job: Job, backend: str = "auto", workers: int | None = None, *,
              start_method: str | None = None, progress: bool = False) -> Report:
    """Run ``job`` in this process with one backend; ``workers=None`` means one per core.
    ``progress``: show it live on stderr (``liveline``)."""
    from mpi_lab import liveline

    count = local_cores() if workers is None else workers
    choice = resolve(job, backend, count, start_method)
    job.preload()
    meter = lab_progress.start()
    planned = 0  # the line's total from the plan on, before the workers have started

    def status() -> lab_progress.Status:
        return lab_progress.Status(meter.done, planned)

    started = time.perf_counter()
    with liveline.shown(job.name, status if progress else None):
        plan = job.plan()
        planned = len(plan)
        slots = plan_slots(job, plan)
        _, results, rank = run_share(job, [(range(len(plan)), plan)], choice.name, count,
                                     start_method=start_method, plan_slots=slots)
    answer = job.combine(slots.results() if slots is not None and slots.used else results)
    return Report.finished(job, answer, choice, schedule=None, started=started,
                           per_rank=[rank])
