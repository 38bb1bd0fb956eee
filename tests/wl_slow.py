"""A workload of known pace for the progress tests: each item sleeps ``pause`` seconds (no
CPU, so the pace holds on a loaded machine and under ``mpiexec -n 4`` on 2 cores); the item
at ``fail_at`` raises."""

from __future__ import annotations

import time
from typing import Any


def plan(items: int = 40, pause: float = 0.05, fail_at: int = -1) -> list[tuple[int, float, int]]:
    return [(index, pause, fail_at) for index in range(items)]


def kernel(item: tuple[int, float, int]) -> int:
    index, pause, fail_at = item
    time.sleep(pause)
    if index == fail_at:
        raise ValueError(f"item {index} fails, as asked")
    return 1


def combine(results: list[Any]) -> int:
    return sum(results)
