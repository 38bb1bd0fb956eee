"""The dynamic schedule: ranks ask rank 0 for chunks of items until none are left.

Rank 0 answers requests from a helper thread while its main thread computes chunks too, so it
needs ``MPI_THREAD_MULTIPLE``; the helper polls with short sleeps rather than blocking in
``recv``, which in Open MPI spins and would take a core from the computation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from mpi_lab.backoff import Backoff
from mpi_lab.errors import LabError
from mpi_lab.jobs import Job
from mpi_lab.mpi import ROOT, outcome, schedules
from mpi_lab.placement import PlanSlots
from mpi_lab.runner import Chunk, run_share

TAG_ASK = 71
TAG_GIVE = 72


class _Dispenser:
    """Rank 0's chunks, shared by its own main thread and the thread serving the other ranks."""

    def __init__(self, plan: Sequence[Any], ranks: int) -> None:
        size = schedules.chunk_size(len(plan), ranks)
        self._chunks = ((indices, schedules.take(plan, indices))
                        for indices in schedules.chunks(len(plan), size))
        self._lock = threading.Lock()
        self.abandoned = False  # set after any failure: no more work for anyone

    def take(self) -> Chunk | None:
        with self._lock:
            if self.abandoned:
                return None
            return next(self._chunks, None)


def _serve(comm: Any, dispenser: _Dispenser, peers: int) -> None:
    """Answer every other rank's requests until each has been told there is no more."""
    from mpi4py import MPI

    status = MPI.Status()
    finished = 0
    backoff = Backoff()
    while finished < peers:
        if not comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_ASK, status=status):
            backoff.sleep()
            continue
        backoff.reset()
        source = status.Get_source()
        failed = comm.recv(source=source, tag=TAG_ASK)
        if failed:
            dispenser.abandoned = True
        chunk = dispenser.take()
        comm.send(chunk, dest=source, tag=TAG_GIVE)
        if chunk is None:
            finished += 1


def share(comm: Any, job: Job, plan: Sequence[Any], backend: str, workers: int,
          start_method: str | None, slots: PlanSlots | None = None,
          ) -> tuple[outcome.Outcome, list[Any]]:
    """Compute chunks until rank 0 has none left; this rank's outcome and results."""
    rank, size = comm.Get_rank(), comm.Get_size()
    server = None
    dispenser = None
    if rank == ROOT:
        dispenser = _Dispenser(plan, size)
        server = threading.Thread(target=_serve, args=(comm, dispenser, size - 1), daemon=True)
        server.start()

    def next_chunk(failed: bool) -> Chunk | None:
        if dispenser is not None:
            if failed:
                dispenser.abandoned = True
            return dispenser.take()
        comm.send(failed, dest=ROOT, tag=TAG_ASK)
        request = comm.irecv(source=ROOT, tag=TAG_GIVE)
        backoff = Backoff()
        while True:  # sleep between tests: a blocking recv would spin on a shared core
            done, chunk = request.test()
            if done:
                return chunk  # type: ignore[no-any-return]
            backoff.sleep()

    def chunks() -> Iterator[Chunk]:
        while (chunk := next_chunk(False)) is not None:
            yield chunk

    result: tuple[outcome.Outcome, list[Any]]
    try:
        ranges, results, report = run_share(job, chunks(), backend, workers,
                                            start_method=start_method, rank=rank,
                                            travelling=rank != ROOT, plan_slots=slots)
        result = outcome.succeeded(report, ranges, results, job.layout is not None), results
    except LabError as exc:
        # Tell rank 0 (and so every rank) to stop; drain its answer so no message is left.
        next_chunk(True)
        result = outcome.failed(rank, exc), []
    if server is not None:
        server.join()
    return result
