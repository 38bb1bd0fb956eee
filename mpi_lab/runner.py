"""Runs a job on one process: plan, map its items through a backend, combine."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mpi_lab import backends, faults, progress
from mpi_lab.backends._base import Kernel
from mpi_lab.errors import KernelFailed, WorkerError
from mpi_lab.guarded import Guarded
from mpi_lab.jobs import Job


@dataclass(frozen=True)
class RankReport:
    """What one rank did: its host, its workers, how many items, and how long its share took."""

    rank: int
    host: str
    workers: int
    items: int
    seconds: float

    @classmethod
    def since(cls, started: float, *, rank: int, workers: int, items: int) -> RankReport:
        """This host's report of a share begun at ``started`` (``time.perf_counter``)."""
        return cls(rank, os.uname().nodename, workers, items, time.perf_counter() - started)


@dataclass
class Report:
    """The outcome of a run, ready to print as text or JSON."""

    job: Job
    answer: Any
    backend: str
    workers: int
    ranks: int
    schedule: str | None  # how rank 0 split the items; None without MPI
    seconds: float
    per_rank: list[RankReport]
    backend_why: str = ""
    output: str | None = None

    @classmethod
    def finished(
        cls, job: Job, answer: Any, choice: backends.Choice, *, schedule: str | None,
        started: float, per_rank: list[RankReport],
    ) -> Report:
        """The report of a run that began at ``started`` (``time.perf_counter``) and ends now;
        its workers are rank 0's (each rank's are in ``per_rank``)."""
        return cls(
            job=job,
            answer=answer,
            backend=choice.name,
            backend_why=choice.why,
            workers=per_rank[0].workers,
            ranks=len(per_rank),
            schedule=schedule,
            seconds=time.perf_counter() - started,
            per_rank=per_rank,
        )

    def to_dict(self) -> dict[str, Any]:
        fields = {
            **self.job.describe(),
            **self.answer.fields(),
            "backend": self.backend,
            "workers": self.workers,
            "ranks": self.ranks,
            "schedule": self.schedule,
            "seconds": round(self.seconds, 6),
        }
        if self.job.workload == "fractal":
            fields["output"] = self.output
        fields["per_rank"] = [asdict(rank) for rank in self.per_rank]
        return fields


def local_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_items(pool: Any, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
    """``pool.map`` with worker failures turned into ``WorkerError`` naming item and cause;
    the results are counted on this process's progress meter."""
    if not items:
        return []
    meter = progress.current()
    meter.plan(len(items))
    try:
        return pool.map(kernel, items, meter.advance)
    except KernelFailed as exc:
        raise WorkerError(f"worker failed on {exc}") from exc
    except Exception as exc:
        # Imported here: concurrent.futures costs start-up time that serial runs do not need.
        from concurrent.futures import BrokenExecutor

        if isinstance(exc, BrokenExecutor):  # e.g. BrokenProcessPool: a worker process died
            raise WorkerError(f"a worker process died: {exc}") from exc
        raise


def rank_kernel(job: Job, rank: int = 0, kernel: Kernel | None = None) -> Kernel:
    """The job's kernel (or ``kernel``) as this rank runs it: guarded, and faulty if a test
    asked for that."""
    return Guarded(faults.inject(kernel or job.kernel_fn, rank))


def run_share(
    job: Job,
    items: Sequence[Any],
    backend: str,
    workers: int,
    *,
    start_method: str | None = None,
    rank: int = 0,
    whole: bool = False,
) -> tuple[Any, RankReport]:
    """Map the kernel over this rank's items with its backend; merge into the rank's part.

    ``whole``: the part stays in this process and becomes the answer (a run without MPI, or
    rank 0), so results go in place into the whole answer where the workers can, and are
    never stacked; otherwise the part is one buffer, to send to rank 0.
    """
    started = time.perf_counter()
    with backends.create(backend, workers, start_method=start_method) as pool:
        # Workers in this process can write results straight into the rank's buffer.
        sink = job.sink(items, whole=whole) if pool.in_process else None
        partials = map_items(pool, rank_kernel(job, rank, sink), items)
    part = job.merge(items, partials, whole=whole, sink=sink)
    # The workers the backend really runs (serial has one, whatever was asked).
    return part, RankReport.since(started, rank=rank, workers=pool.workers, items=len(items))


def run_local(
    job: Job,
    backend: str = "auto",
    workers: int | None = None,
    *,
    start_method: str | None = None,
) -> Report:
    """Run ``job`` in this process with one backend; ``workers=None`` means one per core."""
    count = local_cores() if workers is None else workers
    choice = backends.resolve(backend, job.kernel, count, start_method)
    job.check()
    job.preload()
    progress.start()
    started = time.perf_counter()
    items = job.plan()
    part, rank = run_share(
        job, items, choice.name, count, start_method=start_method, whole=True
    )
    answer = job.combine([items], [part])
    return Report.finished(
        job, answer, choice, schedule=None, started=started, per_rank=[rank]
    )
