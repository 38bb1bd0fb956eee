"""The dynamic schedule: ranks ask rank 0 for chunks of items until none are left.

Rank 0 answers requests from a helper thread while its main thread computes chunks too, so it
needs ``MPI_THREAD_MULTIPLE``; the helper polls with short sleeps rather than blocking in
``recv``, which in Open MPI spins and would take a core from the computation. A rank that
fails or stops (another rank failed) says so in its last request: rank 0 then hands out no more
chunks, and every rank's last request is answered, so no message is left behind.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from mpi_lab.core.backoff import Backoff
from mpi_lab.core.errors import ConfigError, RunEnded
from mpi_lab.core.protocol import ROOT, TAG_ASK, TAG_GIVE
from mpi_lab.local.runner import Chunk, sendable
from mpi_lab.mpi import schedules
from mpi_lab.mpi.schedules.base import Handout, Schedule, Team


class _Dispenser:
    """Rank 0's chunks, shared by its own main thread and the thread serving the other ranks."""

    def __init__(self, plan: Sequence[Any], ranks: int) -> None:
        size = schedules.chunk_size(len(plan), ranks)
        self._chunks = ((indices, schedules.take(plan, indices))
                        for indices in schedules.chunks(len(plan), size))
        self._lock = threading.Lock()
        self.abandoned = False  # set after any failure: no more work for anyone
        self.unsent: ConfigError | None = None  # a chunk that could not be sent

    def take(self) -> Chunk | None:
        with self._lock:
            if self.abandoned:
                return None
            return next(self._chunks, None)

    def take_pickled(self) -> bytes | None:
        """The next chunk, pickled for another rank (None: no more, or one did not pickle)."""
        chunk = self.take()
        if chunk is None:
            return None
        try:
            return sendable(*chunk)
        except ConfigError as exc:
            self.unsent, self.abandoned = exc, True
            return None

    def take_own(self) -> Chunk | None:
        """The next chunk for rank 0 itself: checked as if it were sent, so that a run of items
        that cannot travel fails alike whichever rank the chunk falls to."""
        pickled = self.take_pickled()
        return None if pickled is None else pickle.loads(pickled)  # type: ignore[no-any-return]


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
        chunk = dispenser.take_pickled()
        comm.send(chunk, dest=source, tag=TAG_GIVE)
        if chunk is None:
            finished += 1


class Chunks:
    """This rank's chunks, as rank 0 hands them out (iterate), and the end of its part in the
    schedule (``stop``)."""

    def __init__(self, comm: Any, plan: Sequence[Any]) -> None:
        self.comm = comm
        self.rank, size = comm.Get_rank(), comm.Get_size()
        self._exhausted = False
        self._server = None
        self._dispenser = None
        if self.rank == ROOT:
            self._dispenser = _Dispenser(plan, size)
            self._server = threading.Thread(target=_serve, name="mpi_lab-dynamic",
                                            args=(comm, self._dispenser, size - 1), daemon=True)
            self._server.start()

    def _next(self, failed: bool) -> Chunk | None:
        if self._dispenser is not None:
            if failed:
                self._dispenser.abandoned = True
            return self._dispenser.take_own()
        self.comm.send(failed, dest=ROOT, tag=TAG_ASK)
        request = self.comm.irecv(source=ROOT, tag=TAG_GIVE)
        backoff = Backoff()
        while True:  # sleep between tests: a blocking recv would spin on a shared core
            done, chunk = request.test()
            if done:
                return None if chunk is None else pickle.loads(chunk)  # type: ignore[no-any-return]
            backoff.sleep()

    def __iter__(self) -> Iterator[Chunk]:
        while (chunk := self._next(False)) is not None:
            yield chunk
        self._exhausted = True

    def stop(self, exc: BaseException | None) -> None:
        """This rank is done with the schedule: normally, or stopped by ``exc`` (it tells rank 0,
        which hands out no more). A run that is ending (a signal, the deadline) leaves at once:
        its peers end as it does."""
        if isinstance(exc, RunEnded):
            return
        if not self._exhausted:
            self._next(True)  # the last request, answered "no more"
            self._exhausted = True
        if self._server is not None:
            self._server.join()
        if self._dispenser is not None and self._dispenser.unsent is not None and exc is None:
            raise self._dispenser.unsent  # rank 0's failure: every rank hears of it


class Dynamic(Schedule):
    name = "dynamic"
    thread_level = "multiple"  # rank 0 serves requests from a thread beside its computing

    def hand_out(self, team: Team, plan: Sequence[Any]) -> Handout:
        return Chunks(team.comm, plan)
