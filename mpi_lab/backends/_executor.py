"""Shared machinery of the backends that are ``concurrent.futures`` executors."""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from itertools import islice
from typing import Any

from mpi_lab.backends._base import Backend, Done, Kernel, Layout, Place, no_progress
from mpi_lab.core.errors import ItemNotSent, KernelFailed

# Seconds a wait for the oldest result lasts before the others are looked at for a failure: no
# item waits longer than this behind a failed one, and quick items are never looked at twice.
FAILURES_EVERY = 0.1


def _first_failure(pending: Iterable[tuple[Any, Future[Any]]]) -> tuple[Any, Future[Any]] | None:
    """The first (item, future) of ``pending`` that has failed, if any has."""
    for item, future in pending:
        if future.done() and not future.cancelled() and future.exception() is not None:
            return item, future
    return None


def stream(start: Callable[[Any], Future[Any]], items: Iterable[Any], ahead: int,
           done: Done = no_progress, place: Place | None = None) -> list[Any]:
    """Results of ``start(item)`` for every item, in order, with at most ``ahead`` futures
    unfinished: items are taken from ``items`` only as results come in; ``place`` takes each
    one as it is collected.

    A failure is raised soon after it happens, whichever item it is (not once the items
    before it are done: ``FAILURES_EVERY``); an exception that did not come from the kernel
    (the executor could not send the item, or its result) is raised as ``ItemNotSent`` naming
    the item. The backend's ``abandon`` disposes of the futures still pending (cancelling
    them here too races with a process pool failing them: Python 3.11 prints the error)."""
    source = iter(items)
    pending: deque[tuple[Any, Future[Any]]] = deque()
    results: list[Any] = []

    def begin(item: Any) -> None:
        try:
            future = start(item)
        except Exception as exc:
            raise ItemNotSent(item, exc) from exc
        pending.append((item, future))

    for item in islice(source, ahead):
        begin(item)
    while pending:
        item, head = pending[0]
        try:
            result = _result(item, head, FAILURES_EVERY)
        except TimeoutError:
            if (failed := _first_failure(pending)) is not None:
                _result(*failed)  # raises it
            continue  # the oldest is still running: wait for it again
        pending.popleft()
        results.append(result if place is None else place(item, result))
        done(1)
        for item in islice(source, 1):
            begin(item)
    return results


def _result(item: Any, future: Future[Any], timeout: float | None = None) -> Any:
    """The future's result (``TimeoutError`` if it is not done within ``timeout``); a failure
    that is not the kernel's names the item."""
    try:
        return future.result(timeout)
    except KernelFailed:
        raise
    except BrokenExecutor:
        raise
    except TimeoutError as exc:
        if not future.done():
            raise
        raise ItemNotSent(item, exc) from exc
    except Exception as exc:
        raise ItemNotSent(item, exc) from exc


class ExecutorBackend(Backend):
    """A backend that is a ``concurrent.futures`` executor; subclasses say which."""

    _executor: Executor | None = None

    @abstractmethod
    def make_executor(self) -> Executor:
        """A new executor with ``self.workers`` workers."""

    def start(self) -> None:
        from mpi_lab.endings.interrupts import held

        # A signal or the deadline waits until the executor is whole and known here, so that
        # ``abandon`` finds every worker.
        with held():
            self._executor = self.make_executor()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def abandon(self) -> None:
        """Cancel what has not started; do not wait for what runs (threads finish on their own,
        process backends end their workers)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._executor is None:
            raise RuntimeError(f"{self.name} backend used outside its 'with' block")
        return self._executor.submit(fn, *args)

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
        return stream(lambda item: self.submit(kernel, item), items, self.ahead, done, place)
