"""Fail fast across ranks: a rank whose share fails tells every other rank at once, and each
abandons its own share (its pool's workers ended, its blocks closed) instead of finishing it.

    rank r, whose share failed             every other rank, computing its share
    main: Isend(notice) to each other -->  watcher thread: Iprobe, Recv; a signal to the main
                                           thread, which raises ``PeerFailed`` in its map
    both: outcome --allgather--> every rank learns who failed; the notices not yet received
                                 are received (each was sent to every other rank: a count)

The main thread is stopped only inside ``window`` (around the backend's map), never while it
talks to other ranks (a dynamic chunk's request), so no message of the run is left half done.
The watcher calls MPI beside the main thread: it runs only under ``MPI_THREAD_MULTIPLE``;
without it the ranks finish their shares before they learn of the failure, as before.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from array import array
from collections.abc import Iterable, Iterator
from types import FrameType, TracebackType
from typing import Any

from mpi_lab.core.errors import PeerFailed
from mpi_lab.core.protocol import TAG_FAILED
from mpi_lab.endings import interrupts

POLL = 0.1  # seconds between the watcher's looks (each takes the GIL for a moment)
SIGNAL = signal.SIGUSR1  # the watcher's nudge to the main thread, only while it maps


class Watch:
    """This rank's watch for other ranks' failure notices while it computes its share; used as
    a context manager around the share (``active``: MPI allows the watcher's thread)."""

    def __init__(self, comm: Any, active: bool) -> None:
        self.comm = comm
        self.active = active and comm.Get_size() > 1
        self.heard: set[int] = set()  # ranks whose notice this rank received
        self.told = False  # this rank sent its own notice
        self._sends: list[tuple[Any, Any]] = []  # (request, buffer) of its notices
        self._failed: int | None = None  # the rank whose notice came first
        self._open = False  # the main thread is inside ``window``
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous: Any = None

    def __enter__(self) -> Watch:
        if self.active and interrupts.in_main_thread():
            self._previous = signal.signal(SIGNAL, self._on_signal)
            self._thread = threading.Thread(target=self._watch, name="mpi_lab-failfast",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            with self._lock:
                self._open = False
            signal.signal(SIGNAL, self._previous)

    def _watch(self) -> None:
        from mpi4py import MPI

        status = MPI.Status()
        while not self._stop.wait(POLL):
            if self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_FAILED, status=status):
                source = status.Get_source()
                self._receive(source)
                with self._lock:
                    self._failed = source
                    if self._open:
                        signal.pthread_kill(threading.main_thread().ident, SIGNAL)
                return

    def _receive(self, source: int) -> None:
        from mpi4py import MPI

        self.comm.Recv([array("i", [0]), MPI.INT], source=source, tag=TAG_FAILED)
        self.heard.add(source)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        failed = self._failed
        if failed is not None:
            if self._open:
                interrupts.stop(PeerFailed(failed))
        elif callable(self._previous):  # not ours: whoever handled it before
            self._previous(signum, frame)

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        """Within the block, another rank's failure stops this one (``PeerFailed``)."""
        with self._lock:
            self._open = True
            failed = self._failed
        try:
            if failed is not None:
                raise PeerFailed(failed)
            yield
        finally:
            with self._lock:
                self._open = False

    def tell_others(self) -> None:
        """This rank's share failed: every other rank is told now (if they watch at all)."""
        if not self.active or self.told:
            return
        from mpi4py import MPI

        rank = self.comm.Get_rank()
        for other in range(self.comm.Get_size()):
            if other != rank:
                notice = array("i", [rank])
                self._sends.append((self.comm.Isend([notice, MPI.INT], dest=other, tag=TAG_FAILED),
                                    notice))
        self.told = True

    def settle(self, tellers: Iterable[int]) -> None:
        """Receive every notice still due from ``tellers`` (the ranks that sent one, as the
        outcomes say), and see this rank's own sent: nothing of the run is left in flight."""
        from mpi4py import MPI

        rank = self.comm.Get_rank()
        for source in tellers:
            if source != rank and source not in self.heard:
                self._receive(source)
        MPI.Request.Waitall([request for request, _ in self._sends])
        self._sends = []
