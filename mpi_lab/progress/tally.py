"""Every rank's progress on rank 0 while the ranks compute: for the live line, and for the line
that says where each rank was when a run ends early (a signal, the deadline).

Each rank other than 0 runs a reporter thread that sends its count (items done, and whether
its share is finished) to rank 0 by ``Isend`` when it has changed, twice a second;
rank 0's live-line thread takes whatever has arrived (``Iprobe``) when it draws. No collective
is involved, so a failed rank cannot make another wait on progress: the counts only ever
travel one way, and the run's own collectives decide how it ends. Both threads call MPI beside
the main thread, hence ``MPI_THREAD_MULTIPLE`` for runs that show progress (its cost is
measured in benchmarks/RESULTS.md).

Nothing is left in flight: each rank says in its outcome how many reports it sent, and rank
0 receives every one of them after the outcomes are exchanged.

    rank r > 0                                            rank 0
    reporter thread --Isend(done, finished, item on)-->   live-line thread: Iprobe, Recv, draw
    main: share, last report, outcome --allgather--> main: receive the rest, last line
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mpi_lab.core.protocol import ROOT, TAG_PROGRESS
from mpi_lab.progress import meter
from mpi_lab.progress.meter import Status

EVERY = 0.5  # seconds between a rank's reports: the line under mpiexec comes each second
RANKS_PER_EVERY = 100  # more ranks than this: each reports less often, rank 0 is not flooded


def report_gap(ranks: int) -> float:
    """Seconds between one rank's reports when ``ranks`` ranks report to rank 0."""
    return EVERY * max(1.0, ranks / RANKS_PER_EVERY)


class Reporter:
    """A rank's reporter thread: its meter to rank 0 when it changed."""

    def __init__(self, comm: Any, meter: meter.Meter) -> None:
        self.comm = comm
        self.meter = meter
        self.sent = 0
        self._last: int | None = None
        self._pending: list[tuple[Any, Any]] = []  # (request, its buffer) until complete
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mpi_lab-report", daemon=True)

    def start(self) -> Reporter:
        self._thread.start()
        return self

    def _run(self) -> None:
        gap = report_gap(self.comm.Get_size())
        while not self._stop.wait(gap):
            self._send(finished=False)

    def _send(self, finished: bool) -> None:
        from mpi4py import MPI

        done, current = self.meter.snapshot()
        if done == self._last and not finished:
            return
        self._last = done
        message = _message(done, finished, current)
        self._pending.append((self.comm.Isend([message, MPI.INT64_T], dest=ROOT, tag=TAG_PROGRESS),
                              message))
        self.sent += 1
        self._pending = [(request, buf) for request, buf in self._pending
                         if not request.Test()]

    def finish(self) -> int:
        """Stop, send the last report, wait until every report has left; how many were sent."""
        self._stop.set()
        self._thread.join()
        self._send(finished=True)
        from mpi4py import MPI

        MPI.Request.Waitall([request for request, _ in self._pending])
        self._pending = []
        return self.sent

    def abandon(self) -> None:
        """Stop reporting (the run is ending early: no last report, nothing waited for)."""
        self._stop.set()


def _message(done: int, finished: bool, current: int = -1) -> Any:
    """A report: items done, whether the rank has finished its share, and the plan's index of
    the item it is on (-1: none)."""
    return array("q", (done, int(finished), current))


class Collector:
    """Rank 0's view of every rank: its own meter, and the others' last reports."""

    def __init__(self, comm: Any, total: int = 0, hosts: list[str] | None = None) -> None:
        size = comm.Get_size()
        self.comm = comm
        self.total = total  # the plan's items, once planned
        self.hosts = hosts or [""] * size
        self.done = [0] * size
        self.finished = [False] * size
        self.current = [-1] * size  # the item each rank is on
        self.received = [0] * size
        self._buffer = _message(0, False)
        # The live line's thread polls, the main thread drains: never both at once (each
        # would probe, and one take the other's message).
        self._lock = threading.Lock()

    def poll(self, wait: bool = True) -> Status:
        """Take every report that has arrived; the status now. ``wait=False``: only if no other
        caller is taking them (a signal handler may run while this thread drains)."""
        from mpi4py import MPI

        if not self._lock.acquire(blocking=wait):
            return self.status()
        try:
            status = MPI.Status()
            while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_PROGRESS, status=status):
                self._receive(status.Get_source())
        finally:
            self._lock.release()
        return self.status()

    def _receive(self, source: int) -> None:
        from mpi4py import MPI

        self.comm.Recv([self._buffer, MPI.INT64_T], source=source, tag=TAG_PROGRESS)
        self.received[source] += 1
        self.done[source] = self._buffer[0]
        self.finished[source] = bool(self._buffer[1])
        self.current[source] = self._buffer[2]

    def drain(self, sent: list[int]) -> None:
        """Receive the reports still in flight: ``sent[r]`` is how many rank ``r`` sent (each
        has been sent already, so none of these waits for long)."""
        with self._lock:
            for source, count in enumerate(sent):
                while self.received[source] < count:
                    self._receive(source)

    def status(self) -> Status:
        own = meter.current()
        done = own.done + sum(self.done[1:])
        working = sum(not finished for finished in self.finished)
        return Status(done, self.total, working, len(self.done))

    def standing(self) -> str:
        """Each rank still working and the item it is on, as last heard (for the line that
        says how a run ended): ``": rank 1 on host a was on item 57 (12 done), ..."``."""
        self.poll(wait=False)
        self.done[0], self.current[0] = meter.current().snapshot()
        working = []
        for rank, finished in enumerate(self.finished):
            if finished:
                continue
            on = f"on item {self.current[rank]}" if self.current[rank] >= 0 else "starting"
            working.append(f"rank {rank} on host {self.hosts[rank]} was {on}"
                           f" ({self.done[rank]} of its items done)")
        if not working:
            return ": every rank had finished its share"
        return ": " + ", ".join(working)


@contextmanager
def reporting(comm: Any, on: bool) -> Iterator[Reporter | None]:
    """On ranks other than 0 (if ``on``): a reporter for the block, which sends its last
    report as the block ends (``sent`` then counts them all). A block that raises (the run is
    ending) leaves it without a last report."""
    if not on or comm.Get_rank() == ROOT:
        yield None
        return
    reporter = Reporter(comm, meter.current()).start()
    try:
        yield reporter
    except BaseException:
        reporter.abandon()
        raise
    reporter.finish()
