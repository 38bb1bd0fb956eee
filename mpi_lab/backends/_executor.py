"""Shared machinery of the backends that are ``concurrent.futures`` executors."""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from itertools import islice
from typing import Any

from mpi_lab.backends._base import Backend, Done, Kernel, Layout, no_progress


def stream(start: Callable[[Any], Future[Any]], items: Iterable[Any], ahead: int,
           done: Done = no_progress) -> list[Any]:
    """Results of ``start(item)`` for every item, in order, with at most ``ahead`` futures
    unfinished: items are taken from ``items`` only as results come in. A failure is raised
    as it is; the backend's ``abandon`` disposes of the futures still pending (cancelling
    them here too races with a process pool failing them: Python 3.11 prints the error)."""
    source = iter(items)
    pending: deque[Future[Any]] = deque()
    results: list[Any] = []
    pending.extend(start(item) for item in islice(source, ahead))
    while pending:
        results.append(pending.popleft().result())
        done(1)
        pending.extend(start(item) for item in islice(source, 1))
    return results


class ExecutorBackend(Backend):
    """A backend that is a ``concurrent.futures`` executor; subclasses say which."""

    _executor: Executor | None = None

    @abstractmethod
    def make_executor(self) -> Executor:
        """A new executor with ``self.workers`` workers."""

    def start(self) -> None:
        from mpi_lab.endings import held

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
            layout: Layout | None = None) -> list[Any]:
        return stream(lambda item: self.submit(kernel, item), items, self.ahead, done)
