"""Advice test workload: many items of almost no work: start-up dominates."""

from __future__ import annotations


def plan(items: int = 2000) -> range:
    return range(items)


def kernel(number: int) -> int:
    return number + 1


def combine(results: list[int]) -> int:
    return sum(results)
