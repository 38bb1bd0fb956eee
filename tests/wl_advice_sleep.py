"""Advice test workload: each item waits (the GIL released, as in I/O or NumPy's loops)."""

from __future__ import annotations

import time


def plan(items: int = 40, pause: float = 0.01) -> list[float]:
    return [pause] * items


def kernel(pause: float) -> int:
    time.sleep(pause)
    return 1


def combine(results: list[int]) -> int:
    return sum(results)
