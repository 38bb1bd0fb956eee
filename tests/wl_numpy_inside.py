"""A pure-Python-looking kernel that imports NumPy inside the function, without
``needs_numpy``: a subinterpreter cannot run it, which no look at the module reveals (and
with ``numpy_from``, only from that item on)."""

from __future__ import annotations


def plan(n: int = 6, numpy_from: int = 0) -> list[tuple[int, int]]:
    return [(k, numpy_from) for k in range(n)]


def kernel(item: tuple[int, int]) -> int:
    k, numpy_from = item
    if k < numpy_from:
        return sum(range(k + 1))
    import numpy as np

    return int(np.arange(k + 1).sum())


def combine(results: list[int]) -> int:
    return sum(results)
