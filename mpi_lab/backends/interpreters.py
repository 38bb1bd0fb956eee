"""Implements the interpreters backend: low-level subinterpreters sharing two queues.

Like the seed's second subinterpreter example: each interpreter runs a loop (in a thread of
ours, which releases the GIL while the interpreter works) that takes items from one
cross-interpreter queue and puts results on another.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from mpi_lab.backends import _subinterpreters
from mpi_lab.backends._base import Availability, Backend, Done, Kernel, Layout, Place, no_progress
from mpi_lab.core.errors import ItemNotSent, KernelFailed, RunEnded
from mpi_lab.core.failures import Failure
from mpi_lab.core.kernel_calls import one_line

_INLINE_CLOSE = 0.2  # seconds the loops get to end before their closing is left to a thread
_WORKER_SCRIPT = (
    "from mpi_lab.backends._interpreter_worker import serve\n"
    "serve(tasks, results)\n"
)


class InterpretersBackend(Backend):
    name = "interpreters"
    summary = "low-level subinterpreters fed through cross-interpreter queues (pure Python only)"

    @classmethod
    def availability(cls) -> Availability:
        return _subinterpreters.check(lambda: _subinterpreters.interpreters_module().create_queue)

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
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
                    results.put((-1, False, KernelFailed(_loop_failure(exc))))

            threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in interps]
            handed = self._hand_out(tasks, kernel, source, self.ahead)
            for thread in threads:
                thread.start()
            ending = False
            failed = True
            try:
                collected = self._collect(results, handed, lambda: self._hand_out(
                    tasks, kernel, source, 1), done,
                    None if place is None else lambda index, value: place(items[index], value))
                failed = False
                return collected
            except BaseException as exc:
                if isinstance(exc, RunEnded):
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
                    closing = stack.pop_all()
                    if not failed or _joined(threads, _INLINE_CLOSE):
                        _close(threads, results, closing)
                    else:
                        # Kernels still running (a failure stopped the pool): the run goes on
                        # without them; their interpreters are closed once they return.
                        threading.Thread(target=_close, args=(threads, results, closing),
                                         name="mpi_lab-interpreters-close", daemon=True).start()

    @staticmethod
    def _hand_out(tasks: Any, kernel: Kernel, source: Any, count: int) -> int:
        """Put up to ``count`` more numbered items on ``tasks``; how many there were."""
        handed = 0
        for index, item in itertools.islice(source, count):
            try:
                tasks.put((index, kernel, item))
            except Exception as exc:
                raise ItemNotSent(item, exc) from exc
            handed += 1
        return handed

    @staticmethod
    def _collect(results: Any, handed: int, more: Any, done: Done,
                 place: Callable[[int, Any], Any] | None = None) -> list[Any]:
        """Results in item order; each one collected lets ``more`` hand out another item;
        ``place`` (item's index, result) takes each as it comes."""
        values: dict[int, Any] = {}
        collected = 0
        while collected < handed:
            index, ok, value = results.get()
            if not ok:
                raise value
            values[index] = value if place is None else place(index, value)
            collected += 1
            done(1)
            handed += more()
        return [values[index] for index in range(handed)]


def _joined(threads: list[threading.Thread], seconds: float) -> bool:
    """Every thread ended within ``seconds`` (at most, all told)."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def _close(threads: list[threading.Thread], results: Any, interpreters: contextlib.ExitStack,
           ) -> None:
    """Once every loop has ended: the results left unread, then the interpreters."""
    for thread in threads:
        thread.join()
    # Results a failure left unread were put by the worker interpreters, which are closed
    # next: queue items outliving their interpreter are a known source of crashes (CPython
    # gh-146427).
    _drain(results)
    interpreters.close()


def _drain(queue: Any) -> None:
    """Take every item left in ``queue``."""
    while True:
        try:
            queue.get_nowait()
        except Exception:  # QueueEmpty, whose class differs between stdlib and backport
            return


def _loop_failure(exc: Exception) -> Failure:
    """What ended a subinterpreter's loop (``ExecutionFailed``: the error inside it, by name)."""
    name = getattr(getattr(getattr(exc, "excinfo", None), "type", None), "__name__", "")
    cls = getattr(builtins, name, None)
    kinds = tuple(c.__name__ for c in cls.__mro__ if c is not object) \
        if isinstance(cls, type) and issubclass(cls, BaseException) else (name,) if name else ()
    return Failure(f"a subinterpreter's loop failed: {one_line(str(exc))}", kinds)
