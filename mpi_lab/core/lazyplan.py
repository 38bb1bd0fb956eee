"""A plan whose items are made when they are handed out, so that its size costs no memory.

``LazyPlan(make, range(n))`` is a sequence of ``n`` items, item ``k`` being ``make(k)``;
slices (``plan[a:b]``, ``plan[r::ranks]``) are plans too, so a schedule can cut a plan of 10^9
items into shares and chunks without listing one, and a share pickles in a few bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload


class LazyPlan(Sequence[Any]):
    """Items ``make(k)`` for ``k`` in ``indices``, made on demand."""

    __slots__ = ("_indices", "_make")

    def __init__(self, make: Callable[[int], Any], indices: range) -> None:
        self._make = make
        self._indices = indices

    def __len__(self) -> int:
        return len(self._indices)

    @overload
    def __getitem__(self, key: int) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> LazyPlan: ...

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            return LazyPlan(self._make, self._indices[key])
        return self._make(self._indices[key])

    def __iter__(self) -> Iterator[Any]:
        return map(self._make, self._indices)

    def __reduce__(self) -> tuple[type[LazyPlan], tuple[Callable[[int], Any], range]]:
        return LazyPlan, (self._make, self._indices)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyPlan({self._make!r}, {self._indices!r})"
