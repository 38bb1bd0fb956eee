"""A workload whose kernel fails on one item: ``ZeroDivisionError`` on item ``fail_at``.

Items are ``("row", k)`` tuples, so an error message that names the item shows both its place
in the plan and its repr. The raising line is the one marked below; tests look for it in the
worker's traceback.
"""

from __future__ import annotations

from typing import Any

# The message is the workload's own, so tests never depend on CPython's wording of an error.
RAISING_LINE = 'raise ZeroDivisionError(f"row {row} divides by zero")  # raises on item fail_at'


def plan(n: int = 12, fail_at: int = 7) -> list[tuple[str, int, int]]:
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    return [("row", k, fail_at) for k in range(n)]


def kernel(item: tuple[str, int, int]) -> int:
    _, row, fail_at = item
    if row == fail_at:
        raise ZeroDivisionError(f"row {row} divides by zero")  # raises on item fail_at
    return 1000 // (row - fail_at)


def combine(results: list[int]) -> int:
    return sum(results)


class LaidOut:
    """The same failure with a ``result_layout`` (one int64 per item): the shared-memory
    backend then hands out slots in a shared block, which a failure must not leave behind."""

    def plan(self, n: int = 12, fail_at: int = 7) -> list[tuple[str, int, int]]:
        return plan(n, fail_at)

    def kernel(self, item: tuple[str, int, int]) -> int:
        return kernel(item)

    def result_layout(self, item: tuple[str, int, int]) -> tuple[str, int]:
        return ("q", 1)

    def combine(self, results: Any) -> int:  # a Results list of typed views
        return sum(results.flat)


LAID_OUT = LaidOut()


class Misfit(LaidOut):
    """A result that does not fit the layout on item ``fail_at`` (two numbers for one)."""

    def kernel(self, item: tuple[str, int, int]) -> Any:
        _, row, fail_at = item
        return [row, row] if row == fail_at else row


MISFIT = Misfit()
