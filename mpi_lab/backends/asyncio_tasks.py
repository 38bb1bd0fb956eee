"""Implements the asyncio backend: ``asyncio.to_thread`` tasks in a ``TaskGroup``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from mpi_lab.backends._base import Backend, Kernel


class AsyncioBackend(Backend):
    name = "asyncio"
    in_process = True
    summary = "asyncio.to_thread tasks in a TaskGroup (threads under an event loop)"

    def map(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        try:
            return asyncio.run(self._gather(kernel, items))
        except BaseExceptionGroup as group:
            # The TaskGroup wraps failures; report the first like every other backend does.
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None

    async def _gather(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        # The semaphore keeps at most `workers` kernels in threads at once.
        slots = asyncio.Semaphore(self.workers)

        async def one(item: Any) -> Any:
            async with slots:
                return await asyncio.to_thread(kernel, item)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
        return [task.result() for task in tasks]
