"""Results written in place: where each one goes in a buffer made for it.

A rank whose results stay with it (rank 0, or a run without MPI) keeps them at their places in
one buffer for the whole plan, in plan order: ``combine`` then gets that buffer as it is
(``Results.whole``), and the other ranks' results are copied into their places as they
arrive. A rank whose results travel writes each chunk's back to back, to send as they are.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mpi_lab.core.results import Results, places, results

Slot = Callable[[Any], tuple[str, int]]  # item -> (typecode, count)


def buffer(nbytes: int, numpy: bool) -> memoryview:
    """Fresh memory for results. With NumPy loaded, its ``empty``: uninitialised, the kernel
    writing it is what maps its pages (in huge pages where the system allows). A
    ``bytearray`` (for pure Python) is cleared first, an extra pass over it."""
    if numpy:
        import numpy as np

        return memoryview(np.empty(nbytes, dtype=np.uint8))
    return memoryview(bytearray(nbytes))


def back_to_back(layout: Slot, tasks: Sequence[tuple[int, Any]], numpy: bool,
                 ) -> dict[int, memoryview]:
    """Each item's slot in one new buffer, one after another in the order of ``tasks``."""
    found, total = places(layout(item) for _, item in tasks)
    memory = buffer(total, numpy)
    return {index: memory[start : start + size].cast(typecode)
            for (index, _), (typecode, start, size) in zip(tasks, found, strict=True)}


def one_buffer(views: Sequence[memoryview]) -> memoryview | None:
    """The buffer ``back_to_back`` made, if ``views`` are all its slots in order (as bytes)."""
    if not views or not all(isinstance(view, memoryview) for view in views):
        return None
    owner = views[0].obj
    if any(view.obj is not owner for view in views):
        return None
    memory = memoryview(owner).cast("B")
    return memory if sum(view.nbytes for view in views) == memory.nbytes else None


class PlanSlots:
    """A slot for every result of a plan, in plan order, in one buffer made when first used."""

    def __init__(self, layout: Slot, plan: Sequence[Any], numpy: bool) -> None:
        self._places, self._nbytes = places(map(layout, plan))
        self._numpy = numpy
        self._memory: memoryview | None = None

    @property
    def used(self) -> bool:
        return self._memory is not None

    def slot(self, index: int) -> memoryview:
        if self._memory is None:
            self._memory = buffer(self._nbytes, self._numpy)
        typecode, start, size = self._places[index]
        return self._memory[start : start + size].cast(typecode)

    def slots(self, indices: Iterable[int]) -> dict[int, memoryview]:
        return {index: self.slot(index) for index in indices}

    def put(self, index: int, view: memoryview) -> memoryview:
        """Copy a result that came from elsewhere (maybe in a narrower type) into its slot;
        the slot."""
        slot = self.slot(index)
        if view.format == slot.format:
            slot[:] = view
        elif self._numpy:
            import numpy as np

            np.asarray(slot)[:] = np.asarray(view)
        else:
            slot[:] = memoryview(array(slot.format, view))
        return slot

    def results(self) -> Results:
        """Every slot, in plan order, as ``combine`` gets them; ``whole`` when they share a
        typecode."""
        views = [self.slot(index) for index in range(len(self._places))]
        codes = {typecode for typecode, _, _ in self._places}
        code = self._places[0][0] if self._places else None
        whole = None
        if len(codes) == 1 and self._memory is not None and code:
            whole = self._memory.cast(code)
        return results(views, code, whole)
