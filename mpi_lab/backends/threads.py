"""Implements the threads backend: ``threading.Thread`` workers fed by a ``queue.Queue``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from mpi_lab.backends._base import Backend, Kernel

_STOP = None  # one per worker, after the items


class ThreadsBackend(Backend):
    name = "threads"
    in_process = True
    summary = "threading.Thread workers fed by a queue.Queue (GIL-bound for pure Python)"

    def map(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        todo: queue.Queue[tuple[int, Any] | None] = queue.Queue()
        for numbered in enumerate(items):
            todo.put(numbered)
        for _ in range(self.workers):
            todo.put(_STOP)
        results: list[Any] = [None] * len(items)
        failures: list[BaseException] = []
        failed = threading.Event()

        def work() -> None:
            while (task := todo.get()) is not _STOP:
                if failed.is_set():
                    continue  # drain: after a failure the remaining items are skipped
                index, item = task
                try:
                    results[index] = kernel(item)
                except BaseException as exc:
                    failures.append(exc)
                    failed.set()

        workers = [threading.Thread(target=work, daemon=True) for _ in range(self.workers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if failures:
            raise failures[0]
        return results
