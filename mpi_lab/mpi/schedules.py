"""How rank 0 cuts the planned items into shares: block, cyclic, or dynamic chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")

SCHEDULES = ("block", "cyclic", "dynamic")


def split(items: Sequence[Item], ranks: int, schedule: str) -> list[Sequence[Item]]:
    """One share per rank: ``block`` keeps neighbours together, ``cyclic`` deals them out.

    Block shares differ in length by at most one; cyclic spreads expensive regions (the
    fractal's interior rows) over every rank. Shares are slices: a lazy plan stays lazy.
    """
    if ranks < 1:
        raise ValueError("ranks must be greater than 0")
    if schedule == "cyclic":
        return [items[rank::ranks] for rank in range(ranks)]
    if schedule == "block":
        base, extra = divmod(len(items), ranks)
        shares, at = [], 0
        for rank in range(ranks):
            size = base + (1 if rank < extra else 0)
            shares.append(items[at : at + size])
            at += size
        return shares
    raise ValueError(f"schedule {schedule!r} is not a static split; choose block or cyclic")


def chunk_size(items: int, ranks: int) -> int:
    """Items per dynamic request: about four requests per rank, so slow ranks take less."""
    return max(1, items // (4 * ranks))


def chunks(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    """Consecutive slices of ``size`` items, made as they are asked for."""
    return (items[at : at + size] for at in range(0, len(items), size))
