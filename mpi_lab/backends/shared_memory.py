"""Implements the shared-memory backend: worker processes write results into one block.

Each work item owns a slot of ``item.result_nbytes`` bytes in a single
``multiprocessing.shared_memory`` block: fractal rows land there as pixels of their wire type
(one byte each at 20 iterations), π hit counts as int64. Only the slot offset crosses the
process boundary; the block is closed and unlinked in a ``finally``, after success, failure or
Ctrl-C alike.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
from collections.abc import Sequence
from multiprocessing import resource_tracker, shared_memory
from typing import Any

from mpi_lab.backends._base import Kernel
from mpi_lab.backends._executor import collect
from mpi_lab.backends.process_pool import ProcessPoolBackend

NAME_PREFIX = "mpi_lab_"


def _attach(name: str) -> shared_memory.SharedMemory:
    """Open an existing block without making this worker its owner."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, track=False)
    # Before 3.13 attaching registers the block with the resource tracker, which then unlinks
    # it (with a warning) when the worker exits, while the parent still uses it.
    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        return shared_memory.SharedMemory(name)
    finally:
        resource_tracker.register = register  # type: ignore[assignment]


def _fill_slot(name: str, offset: int, kernel: Kernel, item: Any) -> None:
    """Run ``kernel(item)`` in a worker and write its result into the item's slot."""
    encoded = memoryview(item.encode(kernel(item))).cast("B")
    block = _attach(name)
    try:
        block.buf[offset : offset + encoded.nbytes] = encoded
    finally:
        block.close()


class SharedMemoryBackend(ProcessPoolBackend):
    name = "shared-memory"
    summary = "worker processes writing results into one multiprocessing.shared_memory block"

    def map(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        sizes = [item.result_nbytes for item in items]
        ends = list(itertools.accumulate(sizes))
        offsets = [0, *ends[:-1]]
        block = shared_memory.SharedMemory(
            name=f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(4)}",
            create=True,
            size=max(1, ends[-1] if ends else 0),
        )
        try:
            collect(
                [
                    self.submit(_fill_slot, block.name, offset, kernel, item)
                    for offset, item in zip(offsets, items, strict=True)
                ]
            )
            return [
                item.decode(block.buf[offset : offset + size])
                for item, offset, size in zip(items, offsets, sizes, strict=True)
            ]
        finally:
            block.close()
            block.unlink()
