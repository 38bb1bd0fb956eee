"""A pure-Python kernel in a module that imports NumPy at its top (without ``needs_numpy``):
a subinterpreter cannot import the module, so it cannot get the kernel."""

from __future__ import annotations

import numpy  # noqa: F401 - the point: imported, though the kernel never uses it


def plan(n: int = 8) -> list[int]:
    return list(range(n))


def kernel(x: int) -> int:
    return x * x


def combine(results: list[int]) -> int:
    return sum(results)
