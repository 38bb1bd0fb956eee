"""Implements the shared-memory backend: worker processes write results into shared blocks.

Items go out in windows; each item of a window owns a slot, sized by the workload's
``result_layout``, in one ``multiprocessing.shared_memory`` block made for that window, in the
layout's wire typecode where it has one: fractal rows land there as one byte a pixel at 20
iterations, π hit counts as int64. Only the slot's place crosses the process boundary. A
workload without a layout has no slots to size: its results come back through the pool's pipe,
as with ``process-pool``.

The block's name is unlinked the moment it is made: the workers reach it through the
creator's open descriptor (``/proc/PID/fd/N``, Linux), and the memory lives until the last
process unmaps it. So no signal, not even SIGKILL, can leave it behind in ``/dev/shm``. Where
there is no ``/proc``, workers attach by name and the name is unlinked when the window ends.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from multiprocessing import resource_tracker, shared_memory
from pathlib import Path
from typing import Any

from mpi_lab.backends._base import Done, Kernel, Layout, Place, no_progress
from mpi_lab.backends._executor import stream
from mpi_lab.backends.process_pool import ProcessPoolBackend
from mpi_lab.core.errors import ItemNotSent
from mpi_lab.core.kernel_calls import Timed

NAME_PREFIX = "mpi_lab_"


def _attach(name: str) -> shared_memory.SharedMemory:
    """Open an existing block by name without making this worker its owner."""
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


def _fill_slot(where: tuple[str, int], offset: int, layout: tuple[str, int], kernel: Kernel,
               item: Any) -> Any:
    """Run ``kernel(item)`` in a worker and write its result, as ``layout`` says, into the
    item's slot; return the kernel's stamp if it is ``Timed`` (else None).

    ``where`` is the block's ``/proc/PID/fd/N`` path and inode, or its name where there is no
    /proc (and no inode).
    """
    from mpi_lab.core.kernel_calls import Timed, fitted

    result, stamp = kernel(item) if isinstance(kernel, Timed) else (kernel(item), None)
    encoded = fitted(result, layout, *item).cast("B")
    end = offset + encoded.nbytes
    path, inode = where
    if path.startswith("/proc/"):
        with open(path, "r+b") as file:
            # The descriptor may have been closed and reused since (the window given up
            # after a failure): write only into the block it was.
            if os.fstat(file.fileno()).st_ino != inode:
                raise RuntimeError("the shared-memory block is gone")
            with mmap.mmap(file.fileno(), end) as memory:
                memory[offset:end] = encoded
        return stamp
    block = _attach(path)
    try:
        block.buf[offset:end] = encoded
    finally:
        block.close()
    return stamp


@contextlib.contextmanager
def _window_block(size: int) -> Iterator[tuple[shared_memory.SharedMemory, tuple[str, int]]]:
    """A new block and where workers find it; its name is gone from /dev/shm as soon as can be."""
    block = shared_memory.SharedMemory(
        name=f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(4)}", create=True, size=max(1, size),
    )
    descriptor = None
    try:
        if Path("/proc/self/fd").is_dir():
            descriptor = os.open(f"/dev/shm/{block.name}", os.O_RDWR)
            block.unlink()  # the descriptor keeps the memory; no name is left to leak
            yield block, (f"/proc/{os.getpid()}/fd/{descriptor}", os.fstat(descriptor).st_ino)
        else:
            yield block, (block.name, 0)
    finally:
        if descriptor is not None:
            os.close(descriptor)
        else:
            block.unlink()
        block.close()


class SharedMemoryBackend(ProcessPoolBackend):
    name = "shared-memory"
    summary = "worker processes writing results into multiprocessing.shared_memory blocks"
    places_laid_out_results = True

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
        if layout is None:
            return super().map(kernel, items, done, place=place)
        results: list[Any] = []
        source = iter(items)
        while window := list(itertools.islice(source, self.ahead)):
            results.extend(self._map_window(kernel, window, done, layout, place))
        return results

    def _map_window(self, kernel: Kernel, window: list[Any], done: Done,
                    layout: Layout, place: Place | None) -> list[Any]:
        from mpi_lab.core.results import places

        layouts = [layout(item) for item in window]
        slots, total = places(layouts)
        with _window_block(total) as (block, where):
            try:
                stamps = stream(lambda slot: self.submit(_fill_slot, where, slot[0][1], slot[1],
                                                         kernel, slot[2]),
                                zip(slots, layouts, window, strict=True), len(window), done)
            except ItemNotSent as exc:  # name the item, not its slot
                raise ItemNotSent(exc.item[2], exc.cause) from exc.cause
            timed = isinstance(kernel, Timed)  # then each result goes with its stamp
            if place is None:  # copied: nothing refers to the block once the window is read
                return [(copied, stamp) if timed else copied for copied, stamp in zip(
                    (memoryview(bytes(block.buf[start : start + size])).cast(typecode)
                     for typecode, start, size in slots), stamps, strict=True)]
            kept = []
            for (typecode, start, size), item, stamp in zip(slots, window, stamps, strict=True):
                # ``place`` copies the result out (the block cannot close while it is seen)
                with block.buf[start : start + size] as raw, raw.cast(typecode) as result:
                    kept.append(place(item, (result, stamp) if timed else result))
            return kept
