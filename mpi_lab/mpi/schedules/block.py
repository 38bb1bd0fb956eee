"""The block schedule: each rank takes neighbouring items, shares differing by one at most."""

from __future__ import annotations

from mpi_lab.mpi.schedules.base import StaticSchedule


class Block(StaticSchedule):
    name = "block"

    def split(self, count: int, ranks: int) -> list[range]:
        base, extra = divmod(count, ranks)
        shares, at = [], 0
        for rank in range(ranks):
            size = base + (1 if rank < extra else 0)
            shares.append(range(at, at + size))
            at += size
        return shares
