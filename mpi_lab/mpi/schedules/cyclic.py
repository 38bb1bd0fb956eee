"""The cyclic schedule: items dealt out to the ranks in turn, so that costly regions (the
fractal's interior rows) spread over every rank."""

from __future__ import annotations

from mpi_lab.mpi.schedules.base import StaticSchedule


class Cyclic(StaticSchedule):
    name = "cyclic"

    def split(self, count: int, ranks: int) -> list[range]:
        return [range(rank, count, ranks) for rank in range(ranks)]
