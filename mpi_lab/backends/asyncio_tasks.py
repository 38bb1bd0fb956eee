"""Implements the asyncio backend: ``asyncio.to_thread`` tasks in a ``TaskGroup``."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from mpi_lab.backends._base import Backend, Done, Kernel, no_progress


class AsyncioBackend(Backend):
    name = "asyncio"
    in_process = True
    summary = "asyncio.to_thread tasks in a TaskGroup (threads under an event loop)"

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress) -> list[Any]:
        caught: list[int] = []
        try:
            return asyncio.run(self._main(kernel, items, done, caught))
        except BaseExceptionGroup as group:
            # The TaskGroup wraps failures; report the first like every other backend does.
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
        except asyncio.CancelledError:
            if caught:  # a signal stopped the loop: let the run's own handler say what ends it
                signum, handler = caught[0]
                handler(signum, None)
            raise

    async def _main(self, kernel: Kernel, items: Sequence[Any], done: Done,
                    caught: list[Any]) -> list[Any]:
        """``_gather``, with the run's signal handlers made the event loop's for the while.

        An exception raised by a Python signal handler while the loop runs would land in one
        of asyncio's own callbacks, which logs and swallows it: instead the loop cancels the
        work, and ``map`` calls the run's handler once the loop is closed.
        """
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
                handler = signal.getsignal(signum)
                if callable(handler):
                    previous[signum] = handler

                    def stop(signum: int = signum, handler: Any = handler) -> None:
                        caught.append((signum, handler))
                        if task is not None:
                            task.cancel()

                    loop.add_signal_handler(signum, stop)
        try:
            return await self._gather(kernel, items, done)
        finally:
            for signum, handler in previous.items():
                loop.remove_signal_handler(signum)
                signal.signal(signum, handler)

    async def _gather(self, kernel: Kernel, items: Sequence[Any], done: Done) -> list[Any]:
        # The semaphore keeps at most `workers` kernels in threads at once; tasks are made
        # only as slots free up, and at most `ahead` wait to be collected in order.
        slots = asyncio.Semaphore(self.workers)
        results: list[Any] = []
        pending: deque[asyncio.Task[Any]] = deque()

        async def one(item: Any) -> Any:
            try:
                result = await asyncio.to_thread(kernel, item)
            finally:
                slots.release()
            done(1)
            return result

        async with asyncio.TaskGroup() as group:
            for item in items:
                while pending and (pending[0].done() or len(pending) >= self.ahead):
                    results.append(await pending.popleft())
                await slots.acquire()
                pending.append(group.create_task(one(item)))
        results.extend(task.result() for task in pending)
        return results
