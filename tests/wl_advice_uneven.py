"""Advice test workload: every tenth item costs forty times the others (pure Python)."""

from __future__ import annotations


def plan(items: int = 100, loops: int = 20_000, heavy: int = 40) -> list[int]:
    return [loops * heavy if index % 10 == 0 else loops for index in range(items)]


def kernel(loops: int) -> int:
    total = 0
    for number in range(loops):
        total += number & 5
    return total


def combine(results: list[int]) -> int:
    return sum(results)
