"""Implements the threads backend: ``threading.Thread`` workers fed by a ``queue.Queue``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from mpi_lab.backends._base import Backend, Done, Kernel, Layout, Place, no_progress
from mpi_lab.endings.interrupts import held

_STOP = None  # one per worker, after the items
_WAKE = 0.1  # seconds between looks, while waiting for room in the queue, at a run's ending


class ThreadsBackend(Backend):
    name = "threads"
    summary = "threading.Thread workers fed by a queue.Queue (GIL-bound for pure Python)"

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
        # Bounded: the main thread hands items out only as fast as the workers take them.
        todo: queue.Queue[tuple[int, Any] | None] = queue.Queue(maxsize=self.ahead)
        results: dict[int, Any] = {}
        failures: list[BaseException] = []
        failed = threading.Event()
        over = threading.Event()  # every worker has ended, or one failed
        running = [self.workers]
        lock = threading.Lock()

        def work() -> None:
            try:
                while (task := todo.get()) is not _STOP:
                    if failed.is_set():
                        continue  # drain: after a failure the remaining items are skipped
                    index, item = task
                    try:
                        results[index] = kernel(item)
                        done(1)
                    except BaseException as exc:
                        failures.append(exc)
                        failed.set()
                        over.set()
            finally:
                with lock:
                    running[0] -= 1
                    if not running[0]:
                        over.set()

        workers = [threading.Thread(target=work, daemon=True) for _ in range(self.workers)]
        for worker in workers:
            worker.start()
        count = 0
        try:
            for count, item in enumerate(items, 1):
                if failed.is_set():
                    break
                _put(todo, (count - 1, item))
        except BaseException:
            failed.set()  # the run is ending: what is queued is not run
            _discard(todo)
            raise
        finally:
            with held():  # room for every stop: the queue is drained, or holds only stops
                for _ in range(self.workers):
                    todo.put(_STOP)
        # After a failure the others' kernels are not waited for: each worker ends when its
        # item does (the first failure stops the pool, as every backend's does).
        over.wait()
        if failures:
            raise failures[0]
        if place is None:
            return [results[index] for index in range(count)]
        return [place(items[index], results.pop(index)) for index in range(count)]


def _put(todo: queue.Queue[Any], task: Any) -> None:
    """Queue ``task``, waiting for room; a signal or the deadline ends the wait, but never
    inside ``put``, whose lock an exception raised there can leave broken."""
    with held() as hold:
        ending = threading.Event()
        hold.notify = ending.set
        while not ending.is_set():
            try:
                todo.put(task, timeout=_WAKE)
                return
            except queue.Full:
                continue


def _discard(todo: queue.Queue[Any]) -> None:
    """Take every item still queued."""
    while True:
        try:
            todo.get_nowait()
        except queue.Empty:
            return
