"""Implements the asyncio backend: tasks in a ``TaskGroup``, each awaiting its kernel on a thread.

As ``asyncio.to_thread`` does, through ``loop.run_in_executor``, but with a pool of the run's own
(``workers`` threads), which a run that ends early can leave without waiting for its kernels.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mpi_lab.backends._base import Backend, Done, Kernel, Layout, Place, no_progress
from mpi_lab.endings.interrupts import Hold, held


class AsyncioBackend(Backend):
    name = "asyncio"
    summary = "tasks in a TaskGroup awaiting kernels on threads (threads under an event loop)"

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
        # Kernels run on threads of our own (what asyncio.to_thread does with the loop's
        # default pool), so that a run that ends early need not wait for them.
        threads = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mpi_lab")
        finished = False
        try:
            # A signal or the deadline must not raise inside the loop (asyncio would log and
            # swallow it): it cancels the work, and the run ends as the loop is left.
            with held() as hold:
                results = asyncio.run(self._main(kernel, items, done, threads, hold, place))
            finished = True
            return results
        except BaseExceptionGroup as group:
            # The TaskGroup wraps failures; report the first like every other backend does.
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
        finally:
            threads.shutdown(wait=finished, cancel_futures=True)

    async def _main(self, kernel: Kernel, items: Sequence[Any], done: Done,
                    threads: ThreadPoolExecutor, hold: Hold, place: Place | None) -> list[Any]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is not None:
            hold.notify = lambda: loop.call_soon_threadsafe(task.cancel)
        return await self._gather(kernel, items, done, threads, place)

    async def _gather(self, kernel: Kernel, items: Sequence[Any], done: Done,
                      threads: ThreadPoolExecutor, place: Place | None) -> list[Any]:
        # Tasks are made as results come back: at most `ahead` wait to be collected in order
        # (the pool runs `workers` of them at a time).
        loop = asyncio.get_running_loop()
        results: list[Any] = []
        pending: deque[asyncio.Task[Any]] = deque()

        async def one(item: Any) -> Any:
            result = await loop.run_in_executor(threads, kernel, item)
            done(1)
            return result if place is None else place(item, result)  # on the loop's thread

        async with asyncio.TaskGroup() as group:
            for item in items:
                while pending and (pending[0].done() or len(pending) >= self.ahead):
                    results.append(await pending.popleft())
                pending.append(group.create_task(one(item)))
        results.extend(task.result() for task in pending)
        return results
