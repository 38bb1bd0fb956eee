"""Implements the interpreters backend: low-level subinterpreters sharing two queues.

Like the seed's second subinterpreter example: each interpreter runs a loop (in a thread of
ours, which releases the GIL while the interpreter works) that takes items from one
cross-interpreter queue and puts results on another.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Sequence
from typing import Any

from mpi_lab.backends import _subinterpreters
from mpi_lab.backends._base import Availability, Backend, Done, Kernel, Layout, no_progress
from mpi_lab.errors import KernelFailed
from mpi_lab.guarded import one_line

_WORKER_SCRIPT = (
    "from mpi_lab.backends._interpreter_worker import serve\n"
    "serve(tasks, results)\n"
)


class InterpretersBackend(Backend):
    name = "interpreters"
    summary = "low-level subinterpreters fed through cross-interpreter queues (pure Python only)"
    runs_numpy = False

    @classmethod
    def availability(cls) -> Availability:
        return _subinterpreters.check(lambda: _subinterpreters.interpreters_module().create_queue)

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None) -> list[Any]:
        api = _subinterpreters.interpreters_module()
        tasks, results = api.create_queue(), api.create_queue()
        source = iter(enumerate(items))
        with contextlib.ExitStack() as stack:
            interps = []
            for _ in range(min(self.workers, max(1, len(items)))):
                interp = api.create()
                stack.callback(interp.close)
                # The queue class must be importable in the interpreter before queues arrive.
                interp.exec(f"import {type(tasks).__module__}")
                interp.prepare_main(tasks=tasks, results=results)
                interps.append(interp)

            def run(interp: Any) -> None:
                try:
                    interp.exec(_WORKER_SCRIPT)
                except Exception as exc:  # the loop itself failed, e.g. an import error
                    results.put((-1, False, KernelFailed("a subinterpreter", one_line(str(exc)))))

            threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in interps]
            handed = self._hand_out(tasks, kernel, source, self.ahead)
            for thread in threads:
                thread.start()
            ending = False
            try:
                return self._collect(results, handed, lambda: self._hand_out(
                    tasks, kernel, source, 1), done)
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    # The run is ending (a signal, the deadline) and leaves at once: waiting
                    # for kernels still running, or closing their interpreters, could take
                    # for ever.
                    ending = True
                    stack.pop_all()
                raise
            finally:
                if not ending:
                    _drain(tasks)  # the items not yet taken (after a failure)
                    for _ in threads:
                        tasks.put(None)  # end every loop
                    for thread in threads:
                        thread.join()
                    # Results a failure left unread were put by the worker interpreters, which
                    # are closed next: queue items outliving their interpreter are a known
                    # source of crashes (CPython gh-146427).
                    _drain(results)

    @staticmethod
    def _hand_out(tasks: Any, kernel: Kernel, source: Any, count: int) -> int:
        """Put up to ``count`` more numbered items on ``tasks``; how many there were."""
        handed = 0
        for index, item in itertools.islice(source, count):
            tasks.put((index, kernel, item))
            handed += 1
        return handed

    @staticmethod
    def _collect(results: Any, handed: int, more: Any, done: Done) -> list[Any]:
        """Results in item order; each one collected lets ``more`` hand out another item."""
        values: dict[int, Any] = {}
        collected = 0
        while collected < handed:
            index, ok, value = results.get()
            if not ok:
                raise value
            values[index] = value
            collected += 1
            done(1)
            handed += more()
        return [values[index] for index in range(handed)]


def _drain(queue: Any) -> None:
    """Take every item left in ``queue``."""
    while True:
        try:
            queue.get_nowait()
        except Exception:  # QueueEmpty, whose class differs between stdlib and backport
            return
