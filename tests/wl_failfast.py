"""A workload whose item ``fail_at`` fails at once (after writing the time it failed into
``stamp``, if given), while every other item takes ``pause`` seconds (asleep: no CPU, so the
pace holds under load and with more ranks than cores)."""

from __future__ import annotations

import time


def plan(n: int = 16, pause: float = 1.0, fail_at: int = 8, stamp: str = "") -> list[tuple]:
    return [(k, pause, fail_at, stamp) for k in range(n)]


def kernel(item: tuple[int, float, int, str]) -> int:
    k, pause, fail_at, stamp = item
    if k == fail_at:
        if stamp:
            with open(stamp, "w") as file:
                file.write(repr(time.time()))
        raise ValueError(f"item {k} fails at once")
    time.sleep(pause)
    return k


def combine(results: list[int]) -> int:
    return sum(results)
