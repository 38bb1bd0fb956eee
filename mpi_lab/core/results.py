"""Results in the one shape the lab moves them in: a list in plan order, typed buffers when the
workload declares a ``result_layout``.

A laid-out result is a ``memoryview`` of ``count`` numbers of the layout's ``array`` typecode,
whatever the kernel returned (a NumPy array or ``array`` of that type, or one number): shared
memory, ``Gatherv`` and ``combine`` then need no pickling, and no NumPy (subinterpreters).
"""

from __future__ import annotations

import bisect
import itertools
import struct
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

Layout = tuple[str, int]


class SlotLayout:
    """Item -> (typecode, count) of its result as a rank keeps it, from the workload's
    ``result_layout``: in the layout's narrower wire typecode (its optional third element)
    when the results travel to another process or rank. Picklable: workers call it."""

    __slots__ = ("layout", "travelling")

    def __init__(self, layout: Any, travelling: bool) -> None:
        self.layout = layout
        self.travelling = travelling

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return SlotLayout, (self.layout, self.travelling)

    def __call__(self, item: Any) -> Layout:
        typecode, count, *wire = self.layout(item)
        return (wire[0] if self.travelling and wire else typecode), count


def nbytes(layout: Layout) -> int:
    """Bytes of a result of this (typecode, count)."""
    typecode, count = layout
    return count * array(typecode).itemsize


Place = tuple[str, int, int]  # typecode, first byte, bytes


def places(layouts: Iterable[Layout]) -> tuple[list[Place], int]:
    """Where results of these layouts go, back to back in one buffer, and its size."""
    found, at = [], 0
    for layout in layouts:
        size = nbytes(layout)
        found.append((layout[0], at, size))
        at += size
    return found, at


def typed(result: Any, layout: Layout) -> memoryview:
    """``result`` as ``count`` numbers of ``typecode``, without a copy where it already is."""
    typecode, count = layout
    if isinstance(result, (int, float)) and count == 1:
        return memoryview(array(typecode, [result]))
    if hasattr(result, "astype") and hasattr(result, "dtype"):  # NumPy: converted by NumPy
        result = result.astype(typecode, copy=False).reshape(-1)
    try:
        view = memoryview(result)
    except TypeError:
        view = None
    if view is not None and view.c_contiguous and _same_type(view.format, typecode):
        view = view.cast("B").cast(typecode)
    else:
        view = memoryview(array(typecode, result if view is None else view.tolist()))
    if len(view) != count:
        raise ValueError(f"a result of {len(view)} numbers, where result_layout says {count}")
    return view


_KINDS = ("bhilq", "BHILQ", "fd")  # signed, unsigned, floating


def _same_type(format: str, typecode: str) -> bool:
    """A buffer ``format`` holds numbers of ``typecode`` (NumPy's int64 says ``l``, say)."""
    code = format.lstrip("@=<")
    if len(code) != 1:
        return False
    if code == typecode:
        return True
    same_kind = any(code in kind and typecode in kind for kind in _KINDS)
    return same_kind and struct.calcsize(code) == array(typecode).itemsize


class Results(list[Any]):
    """The results, in plan order, that ``combine`` gets; with a layout, typed memoryviews,
    and ``flat``: all of them back to back, one ``memoryview`` of the typecode (joined on
    demand, a copy, unless ``whole`` is set: the one buffer they already are, when they
    were written in place)."""

    typecode: str | None = None
    whole: memoryview | None = None  # every result, back to back, when they are one buffer

    @property
    def flat(self) -> memoryview:
        if self.typecode is None:
            raise AttributeError("flat: the workload declares no result_layout")
        if self.whole is not None:
            return self.whole
        code = self.typecode
        joined = b"".join((view if view.format == code else memoryview(array(code, view)))
                          .cast("B") for view in self)  # wire-typed results widened
        return memoryview(joined).cast(code)


def results(values: Iterable[Any], typecode: str | None,
            whole: memoryview | None = None) -> Results:
    """``values`` as the ``Results`` that ``combine`` gets; ``whole``: the one buffer they
    are, back to back (results written in place)."""
    collected = Results(values)
    collected.typecode = typecode
    collected.whole = whole
    return collected


def pack(views: Sequence[memoryview]) -> bytes:
    """Laid-out results back to back, as bytes: a rank's part for ``Gatherv``."""
    return b"".join(view.cast("B") for view in views)


def rounds(sizes: Sequence[int], count: int, limit: int) -> list[int]:
    """Results of these byte ``sizes``, back to back, sent in ``count`` rounds of about
    ``limit`` bytes: the index of each round's first result, then ``len(sizes)``. A result
    goes in the round its first byte falls in (a round is under ``limit`` and one result)."""
    starts = list(itertools.accumulate(sizes, initial=0))[:-1]
    return [*(bisect.bisect_left(starts, k * limit) for k in range(count)), len(sizes)]


def unpack(raw: memoryview, layouts: Iterable[Layout]) -> list[memoryview]:
    """``pack``'s bytes as typed views (no copy), one per layout."""
    raw = raw.cast("B")
    return [raw[start : start + size].cast(typecode)
            for typecode, start, size in places(layouts)[0]]


def in_plan_order(count: int, pieces: Iterable[tuple[Sequence[range], Sequence[Any]]]) -> list[Any]:
    """The results of a plan of ``count`` items, from pieces of (the index ranges a rank ran,
    in its order; its results, in the same order)."""
    placed: list[Any] = [None] * count
    for ranges, values in pieces:
        at = 0
        for indices in ranges:
            step = len(indices)
            placed[indices.start : indices.stop : indices.step] = values[at : at + step]
            at += step
    return placed
