"""Shared machinery of the backends that are ``concurrent.futures`` executors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from mpi_lab.backends._base import Backend, Kernel


def collect(futures: Sequence[Future[Any]]) -> list[Any]:
    """Results of ``futures`` in order; on the first failure, cancel what has not started."""
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise


class ExecutorBackend(Backend):
    """A backend that is a ``concurrent.futures`` executor; subclasses say which."""

    _executor: Executor | None = None

    @abstractmethod
    def make_executor(self) -> Executor:
        """A new executor with ``self.workers`` workers."""

    def start(self) -> None:
        self._executor = self.make_executor()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._executor is None:
            raise RuntimeError(f"{self.name} backend used outside its 'with' block")
        return self._executor.submit(fn, *args)

    def map(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        return collect([self.submit(kernel, item) for item in items])
