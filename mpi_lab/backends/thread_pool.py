"""Implements the thread-pool backend: ``concurrent.futures.ThreadPoolExecutor``."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

from mpi_lab.backends._executor import ExecutorBackend


class ThreadPoolBackend(ExecutorBackend):
    name = "thread-pool"
    summary = "ThreadPoolExecutor (parallel for NumPy, GIL-bound for pure Python)"

    def make_executor(self) -> Executor:
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mpi_lab")
