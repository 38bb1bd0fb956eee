"""The dynamic schedule: ranks ask rank 0 for chunks of items until none are left.

Rank 0 answers requests from a helper thread while its main thread computes chunks too, so it
needs ``MPI_THREAD_MULTIPLE``; the helper polls with short sleeps rather than blocking in
``recv``, which in Open MPI spins and would take a core from the computation.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from mpi_lab import backends
from mpi_lab.errors import LabError
from mpi_lab.jobs import Job
from mpi_lab.mpi import outcome, schedules
from mpi_lab.runner import RankReport, map_items, rank_kernel

ROOT = 0
TAG_ASK = 71
TAG_GIVE = 72
_POLL = 0.0005


class _Dispenser:
    """Rank 0's chunks, shared by its own main thread and the thread serving the other ranks."""

    def __init__(self, chunks: Iterator[Sequence[Any]]) -> None:
        self._chunks = chunks
        self._lock = threading.Lock()
        self.abandoned = False  # set after any failure: no more work for anyone

    def take(self) -> Sequence[Any] | None:
        with self._lock:
            if self.abandoned:
                return None
            return next(self._chunks, None)


def _serve(comm: Any, dispenser: _Dispenser, peers: int) -> None:
    """Answer every other rank's requests until each has been told there is no more."""
    from mpi4py import MPI

    status = MPI.Status()
    finished = 0
    while finished < peers:
        if not comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_ASK, status=status):
            time.sleep(_POLL)
            continue
        source = status.Get_source()
        failed = comm.recv(source=source, tag=TAG_ASK)
        if failed:
            dispenser.abandoned = True
        chunk = dispenser.take()
        comm.send(chunk, dest=source, tag=TAG_GIVE)
        if chunk is None:
            finished += 1


def run_share(
    comm: Any, job: Job, items: Sequence[Any], backend: str, workers: int,
    start_method: str | None,
) -> tuple[Any, Any]:
    """Compute chunks until rank 0 has none left; return this rank's Outcome and part."""
    rank, size = comm.Get_rank(), comm.Get_size()
    started = time.perf_counter()
    server = None
    dispenser = None
    if rank == ROOT:
        dispenser = _Dispenser(schedules.chunks(items, schedules.chunk_size(len(items), size)))
        server = threading.Thread(target=_serve, args=(comm, dispenser, size - 1), daemon=True)
        server.start()

    def next_chunk(failed: bool) -> Sequence[Any] | None:
        if dispenser is not None:
            if failed:
                dispenser.abandoned = True
            return dispenser.take()
        comm.send(failed, dest=ROOT, tag=TAG_ASK)
        request = comm.irecv(source=ROOT, tag=TAG_GIVE)
        while True:  # sleep between tests: a blocking recv would spin on a shared core
            done, chunk = request.test()
            if done:
                return chunk
            time.sleep(_POLL)

    chunks: list[Sequence[Any]] = []  # as handed out: slices of a lazy plan pickle small
    partials: list[Any] = []
    error = None
    try:
        with backends.create(backend, workers, start_method=start_method) as pool:
            workers = pool.workers  # what the backend really runs (serial: one)
            kernel = rank_kernel(job, rank)
            while (chunk := next_chunk(False)) is not None:
                partials.extend(map_items(pool, kernel, chunk))
                chunks.append(chunk)
    except LabError as exc:
        error = exc
        # Tell rank 0 (and so every rank) to stop; drain its answer so no message is left.
        if dispenser is None:
            next_chunk(True)
        else:
            dispenser.abandoned = True
    if server is not None:
        server.join()
    if error is not None:
        return outcome.failed(rank, error), None
    mine = Chunks(chunks)
    part = job.merge(mine, partials)
    report = RankReport.since(started, rank=rank, workers=workers, items=len(mine))
    return outcome.succeeded(job, report, part, chunks), part


class Chunks(Sequence[Any]):
    """The items of a rank's chunks, in the order it ran them, without listing them."""

    def __init__(self, chunks: list[Sequence[Any]]) -> None:
        self._chunks = chunks
        self._ends = list(itertools.accumulate(len(chunk) for chunk in chunks))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        which = bisect.bisect_right(self._ends, index)
        return self._chunks[which][index - (self._ends[which - 1] if which else 0)]

    def __iter__(self) -> Iterator[Any]:
        return itertools.chain.from_iterable(self._chunks)
