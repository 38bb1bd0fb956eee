"""Runs a job's items on one process through a backend: a rank's share, or a run without MPI."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mpi_lab import backends, faults, progress
from mpi_lab.backends._base import Backend  # every run needs it: loaded before the clock
from mpi_lab.errors import ConfigError, KernelFailed, RemoteTraceback, WorkerError
from mpi_lab.guarded import Guarded, import_paths
from mpi_lab.jobs import Job
from mpi_lab.report import RankReport, Report
from mpi_lab.results import Results, typed
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
    choice = backends.resolve(backend, job.uses_numpy(), workers, start_method,
                              in_main=job.in_main(), workload=job.name)
    if job.in_main():  # only then: loading the backend's class costs time in the clock
        job.check_reachable(choice.name, backends.backend_class(choice.name).in_process)
    return choice


def map_items(pool: Backend, kernel: Guarded, tasks: Numbered, job: Job,
              into: memoryview | None = None, travelling: bool = False) -> list[Any]:
    """``pool.map`` with worker failures turned into ``WorkerError`` naming item and cause;
    the results are counted on this process's progress meter, and typed if the workload
    declares their layout. ``into``: a buffer for the results, back to back, which the
    kernel writes into (in-process workers)."""
    if not tasks:
        return []
    meter = progress.current()
    meter.plan(len(tasks))
    layout = job.slot_layout(travelling)
    if into is not None:
        kernel = Guarded(kernel.kernel, kernel.paths, slots(layout, tasks, into))
    try:
        values = pool.map(kernel, tasks, meter.advance,
                          layout=None if layout is None else lambda task: layout(task[1]))
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
    if layout is None or kernel.slots is not None:
        return values
    try:
        return [typed(value, layout(item)) for value, item in zip(values, tasks.items)]
    except (TypeError, ValueError) as exc:
        raise WorkerError(f"{job.name}: a result does not fit its result_layout: {exc}") \
            from exc


def result_bytes(layout: Any, items: Iterable[Any]) -> int:
    """Bytes of the results of ``items``, as their layouts say."""
    from array import array

    return sum(count * array(typecode).itemsize for typecode, count in map(layout, items))


def buffer(nbytes: int, numpy: bool) -> memoryview:
    """Fresh memory for results. With NumPy loaded, its ``empty``: uninitialised, the kernel
    writing it is what maps its pages (in huge pages where the system allows). A
    ``bytearray`` (for pure Python) is cleared first, an extra pass over it."""
    if numpy:
        import numpy as np

        return memoryview(np.empty(nbytes, dtype=np.uint8))
    return memoryview(bytearray(nbytes))


def slots(layout: Any, tasks: Numbered, into: memoryview) -> dict[int, memoryview]:
    """Each item's slot in ``into``, one after another in the order of ``tasks``."""
    from array import array

    views, at = {}, 0
    for index, item in tasks:
        typecode, count = layout(item)
        size = count * array(typecode).itemsize
        views[index] = into[at : at + size].cast(typecode)
        at += size
    return views


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
              ) -> tuple[list[range], Results, RankReport]:
    """Map the kernel over every chunk this rank is given (its static share, or dynamic
    chunks as they come); its ranges and results, in the order it ran them, and its report.
    ``travelling``: the results go to another rank (in the layout's wire typecode, if any).

    Where the kernel can write in place and the workers share this process, each chunk's
    results go back to back into one buffer: a single chunk's buffer is then ``whole``.
    """
    started = time.perf_counter()
    ranges: list[range] = []
    values: list[Any] = []
    written: list[memoryview] = []
    with backends.create(backend, workers, start_method=start_method) as pool:
        kernel = rank_kernel(job, rank)
        # Subinterpreter backends are probed before the first chunk (the lab's own workloads
        # are known to load there, and the probe would delay a second worker's start).
        probed = pool.runs_numpy or kernel.kernel.__module__.startswith("mpi_lab.")
        in_place = pool.in_process and job.writes_in_place
        numpy = job.uses_numpy()
        for indices, items in chunks:
            if not probed and len(items):
                _probe(pool, job, kernel, (indices[0], items[0]))
                probed = True
            into = buffer(result_bytes(job.slot_layout(travelling), items), numpy) \
                if in_place else None
            values.extend(map_items(pool, kernel, Numbered(indices, items), job, into,
                                    travelling))
            ranges.append(indices)
            if into is not None:
                written.append(into)
    code = typecode(job, values)
    whole = written[0].cast(code) if len(written) == 1 and code else None
    # The workers the backend really runs (serial has one, whatever was asked).
    report = RankReport.since(started, rank=rank, workers=pool.workers, items=len(values))
    return ranges, typed_results(values, code, whole), report


def typecode(job: Job, results: Sequence[Any]) -> str | None:
    """The typecode of laid-out results (that of the first), for ``Results.flat``."""
    if job.layout is None or not results:
        return None
    return str(results[0].format)


def run_local(job: Job, backend: str = "auto", workers: int | None = None, *,
              start_method: str | None = None) -> Report:
    """Run ``job`` in this process with one backend; ``workers=None`` means one per core."""
    count = local_cores() if workers is None else workers
    choice = resolve(job, backend, count, start_method)
    job.preload()
    progress.start()
    started = time.perf_counter()
    plan = job.plan()
    _, results, rank = run_share(job, [(range(len(plan)), plan)], choice.name, count,
                                 start_method=start_method)
    answer = job.combine(results)
    return Report.finished(job, answer, choice, schedule=None, started=started,
                           per_rank=[rank])
