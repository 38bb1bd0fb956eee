"""Implements the process-pool backend: ``ProcessPoolExecutor`` with a chosen start method."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor

from mpi_lab import lifeline
from mpi_lab.backends._executor import ExecutorBackend

START_METHODS = ("spawn", "fork", "forkserver")


def default_start_method() -> str:
    """``forkserver`` where the platform has it (safe with threads and MPI), else ``spawn``."""
    available = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in available else "spawn"


def check_start_method(method: str) -> str:
    if method not in START_METHODS:
        raise ValueError(f"unknown start method {method!r}; choose from {', '.join(START_METHODS)}")
    if method not in multiprocessing.get_all_start_methods():
        raise ValueError(f"start method {method!r} is not available on this platform")
    return method


class ProcessPoolBackend(ExecutorBackend):
    name = "process-pool"
    summary = "ProcessPoolExecutor: separate processes, arguments and results pickled"

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        super().__init__(workers)
        self.start_method = check_start_method(start_method or default_start_method())

    def make_executor(self) -> Executor:
        context = multiprocessing.get_context(self.start_method)
        # Workers are children of the forkserver, not of this process, so no death signal
        # reaches them if it is killed: each watches its owner and ends with it.
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context,
            initializer=lifeline.exit_with, initargs=(os.getpid(),),
        )
