"""Advice test workload: some pure-Python work per item, and a large result to send back."""

from __future__ import annotations


def plan(items: int = 30, size: int = 4 << 20, loops: int = 30_000) -> list[tuple[int, int]]:
    return [(size, loops)] * items


def kernel(item: tuple[int, int]) -> bytes:
    size, loops = item
    total = 0
    for number in range(loops):
        total += number % 3
    return bytes([total % 256]) * size


def combine(results: list[bytes]) -> int:
    return sum(len(result) for result in results)
