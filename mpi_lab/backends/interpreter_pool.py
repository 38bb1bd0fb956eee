"""Implements the interpreter-pool backend: ``InterpreterPoolExecutor``, one GIL per worker."""

from __future__ import annotations

from concurrent.futures import Executor

from mpi_lab.backends import _subinterpreters
from mpi_lab.backends._base import Availability
from mpi_lab.backends._executor import ExecutorBackend


class InterpreterPoolBackend(ExecutorBackend):
    name = "interpreter-pool"
    summary = "InterpreterPoolExecutor: subinterpreters with their own GIL (pure Python only)"

    @classmethod
    def availability(cls) -> Availability:
        return _subinterpreters.check(_subinterpreters.pool_executor_class)

    def make_executor(self) -> Executor:
        executor: Executor = _subinterpreters.pool_executor_class()(max_workers=self.workers)
        return executor
