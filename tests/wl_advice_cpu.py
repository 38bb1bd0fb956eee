"""Advice test workload: pure-Python arithmetic that holds the GIL, even items."""

from __future__ import annotations


def plan(items: int = 40, loops: int = 300_000) -> list[int]:
    return [loops] * items


def kernel(loops: int) -> int:
    total = 0
    for number in range(loops):
        total += number * number % 7
    return total


def combine(results: list[int]) -> int:
    return sum(results)
