"""Implements the process-pool backend: ``ProcessPoolExecutor`` with a chosen start method.

Nothing it makes can outlive it, however the owner ends (even by SIGKILL):

- every worker starts with the pool and watches its owner (``lifeline``): it ends when the
  owner does, Ctrl-C being the owner's to handle;
- the queues' POSIX semaphores (``/dev/shm/sem.mp-*``: with forkserver and spawn the workers
  open them by name as they start) are unlinked once every worker has started; those already
  open keep working, and no name is left for the resource tracker to clean up and warn about;
- under Open MPI the forkserver's socket folder lies in the rank's session folder, which the
  launcher removes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from mpi_lab.backends import check_start_method, default_start_method
from mpi_lab.backends._executor import ExecutorBackend
from mpi_lab.core import env
from mpi_lab.endings import lifeline

# Private names of CPython's concurrent.futures and multiprocessing read here, each because no
# public means exists, each with a fallback to the stdlib's own behaviour if it is missing:
# ProcessPoolExecutor._launch_processes (start every worker now), ._processes (the workers, to
# end those it never gave a task), ._call_queue/._result_queue (their named semaphores, to
# unlink; the result pipe's writer, to close), ._safe_to_dynamically_spawn_children (start no
# worker once the names are gone); SemLock._semlock.name, SemLock._cleanup and
# util._finalizer_registry (the semaphores' names and the finalizers that would unlink them).
READY_TIMEOUT = 60.0  # seconds for every worker to start (spawn imports NumPy in each)
HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM}  # those ending a run


def _worker_start(owner: int, ready: Connection | None) -> None:
    """Each worker, as it starts: leave Ctrl-C to the owner, end with it, say it is up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)  # held back while it started
    lifeline.exit_with(owner)
    if ready is not None:
        with contextlib.suppress(OSError):  # the owner gave up waiting: it is ending us
            ready.send(os.getpid())
        ready.close()


def _start_all(executor: ProcessPoolExecutor, workers: int, ready: Connection) -> bool:
    """Start every worker now (not on demand) and wait until each has opened the queues."""
    launch = getattr(executor, "_launch_processes", None)  # private: see the list at the top
    if launch is None:
        return False
    launch()
    processes = _workers(executor)
    waiting = workers
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting:
        if ready.poll(0.05):
            ready.recv()
            waiting -= 1
        elif time.monotonic() > deadline or not all(p.is_alive() for p in processes):
            return False  # a worker failed to start: the pool reports it when used
    return True


def _unlink_queue_semaphores(executor: ProcessPoolExecutor) -> int:
    """Unlink the named semaphores of the pool's queues; how many there were (private names:
    see the list at the top).

    They are found on the queues themselves, and their finalizers (which would unlink them
    again at exit) are cancelled.
    """
    from multiprocessing import resource_tracker, synchronize, util

    names = []
    for queue in (getattr(executor, "_call_queue", None), getattr(executor, "_result_queue", None)):
        for value in vars(queue).values() if queue is not None else ():
            if isinstance(value, synchronize.SemLock) and value._semlock.name:
                names.append(value._semlock.name)
    for name in names:
        synchronize.sem_unlink(name)
        resource_tracker.unregister(name, "semaphore")
    for finalizer in list(getattr(util, "_finalizer_registry", {}).values()):
        if (getattr(finalizer, "_callback", None) is synchronize.SemLock._cleanup
                and getattr(finalizer, "_args", (None,))[0] in names):
            finalizer.cancel()
    return len(names)


def _workers(executor: Any) -> list[Any]:
    """The pool's worker processes (private: see the list at the top)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _end_workers(processes: list[Any]) -> None:
    """Kill these workers (those still up) and reap them: none outlives this call."""
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=5)


def _close_result_writer(executor: Any) -> None:
    """Close this process's end for writing the pool's results, once its workers are dead.

    A worker killed while it sent a result (one larger than the pipe, as a fractal band is)
    leaves part of a message in the pipe; the pool's manager thread reads on for the rest,
    and as this process holds the pipe's other write end, the end of file never comes: it
    would wait forever, and ``shutdown(wait=True)`` with it. Once this end is closed it gets
    the end of file, finds the pool broken and ends. (This process never writes results.)
    Private names: see the list at the top.
    """
    writer = getattr(getattr(executor, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()


def _temporary_folder_in_session() -> None:
    """Under Open MPI, put multiprocessing's temporary folder (the forkserver's socket) in this
    rank's session folder, which the launcher removes when the job ends, even if this rank
    was killed and could not remove it."""
    session = env.read(env.OMPI_SESSION)
    if session and os.path.isdir(session) and _tempdir_from_environment():
        tempfile.tempdir = session


def _tempdir_from_environment() -> bool:
    """``tempfile``'s folder is unset, or the one it finds itself (TMPDIR, /tmp): not one the
    program chose. (Python 3.14 finds it as it learns its default start method.)"""
    chosen = tempfile.tempdir
    if chosen is None:
        return True
    tempfile.tempdir = None
    try:
        return tempfile.gettempdir() == chosen
    finally:
        tempfile.tempdir = chosen


class ProcessPoolBackend(ExecutorBackend):
    name = "process-pool"
    summary = "ProcessPoolExecutor: separate processes, arguments and results pickled"

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        super().__init__(workers)
        self.start_method = check_start_method(start_method or default_start_method())

    def make_executor(self) -> Executor:
        _temporary_folder_in_session()
        # Blocked while the pool is made, so in its workers until each has set itself up (the
        # mask passes through exec, and into a forkserver started now): no worker prints a
        # KeyboardInterrupt as it starts. (The run itself waits through ``endings.held``.)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        try:
            return self._make_executor()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _make_executor(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(self.start_method)
        ready, tell = context.Pipe(duplex=False)
        forked = self.start_method == "fork"  # fork unlinks semaphores at once already
        # Workers are children of the forkserver, not of this process, so no death signal
        # reaches them if it is killed: each watches its owner and ends with it.
        executor = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context,
            initializer=_worker_start, initargs=(os.getpid(), None if forked else tell),
        )
        try:
            if not forked and _start_all(executor, self.workers, ready):
                _unlink_queue_semaphores(executor)
                # No worker may start after the names are gone (it could not open them):
                # the pool starts none on demand, as with fork (a dead worker breaks it).
                executor._safe_to_dynamically_spawn_children = False  # type: ignore[attr-defined]  # private
        except (AttributeError, OSError):
            pass  # an executor built differently: its semaphores stay named, as they were
        except BaseException:
            _end_workers(_workers(executor))  # none may linger
            _close_result_writer(executor)
            executor.shutdown(wait=True)
            raise
        finally:
            tell.close()
            ready.close()
        return executor

    def close(self) -> None:
        """Shut the pool down; workers it never gave a task (started with the pool, not on
        demand) have no manager to end them: they are ended here."""
        processes = _workers(self._executor)  # shutdown forgets them
        super().close()
        _end_workers(processes)

    def abandon(self) -> None:
        """End the workers now (a kernel may run for long), then the pool: with its workers
        gone it shuts down at once, failing what was pending (cancelling those futures too
        would race with that, and Python 3.11 prints the InvalidStateError), even if a worker
        died in the middle of sending a result (``_close_result_writer``)."""
        if self._executor is not None:
            _end_workers(_workers(self._executor))
            _close_result_writer(self._executor)
            self._executor.shutdown(wait=True)
            self._executor = None
