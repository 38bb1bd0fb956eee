"""How rank 0 cuts the plan into shares: block, cyclic, or dynamic chunks, as ranges of the
plan's indices (a range pickles in a few bytes, and slices a lazy plan without listing it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

SCHEDULES = ("block", "cyclic", "dynamic")


def split(count: int, ranks: int, schedule: str) -> list[range]:
    """One share of ``range(count)`` per rank: ``block`` keeps neighbours together, ``cyclic``
    deals them out.

    Block shares differ in length by at most one; cyclic spreads expensive regions (the
    fractal's interior rows) over every rank.
    """
    if ranks < 1:
        raise ValueError("ranks must be greater than 0")
    if schedule == "cyclic":
        return [range(rank, count, ranks) for rank in range(ranks)]
    if schedule == "block":
        base, extra = divmod(count, ranks)
        shares, at = [], 0
        for rank in range(ranks):
            size = base + (1 if rank < extra else 0)
            shares.append(range(at, at + size))
            at += size
        return shares
    raise ValueError(f"schedule {schedule!r} is not a static split; choose block or cyclic")


def chunk_size(items: int, ranks: int) -> int:
    """Items per dynamic request: about four requests per rank, so slow ranks take less."""
    return max(1, items // (4 * ranks))


def chunks(count: int, size: int) -> Iterator[range]:
    """Consecutive ranges of ``size`` indices of ``range(count)``, made as they are asked for."""
    return (range(at, min(at + size, count)) for at in range(0, count, size))


def take(plan: Sequence[Any], indices: range) -> Sequence[Any]:
    """The items of ``plan`` at ``indices``: a slice where the plan slices (a lazy plan stays
    lazy), else a list."""
    if indices == range(len(plan)):
        return plan
    try:
        share = plan[indices.start : indices.stop : indices.step]
    except (TypeError, ValueError):
        share = None
    if share is None or len(share) != len(indices):
        return [plan[index] for index in indices]
    return share
