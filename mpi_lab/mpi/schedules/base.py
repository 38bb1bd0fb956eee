"""What a schedule is (``Schedule``), and the static kind that cuts the plan once on rank 0."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from mpi_lab.core.protocol import ROOT
from mpi_lab.local.runner import Chunk, sendable
from mpi_lab.mpi import schedules

T = TypeVar("T")


class Team(Protocol):
    """What a schedule needs of the ranks making the run (``coordinator.RankTeam``)."""

    comm: Any
    size: int

    def decide(self, step: Callable[[], T], idle: bool = False) -> T | None: ...


class Handout(Protocol):
    """A rank's chunks as the schedule gives them (iterate), and the end of its part."""

    def __iter__(self) -> Iterator[Chunk]: ...

    def stop(self, exc: BaseException | None) -> None:
        """This rank is done: normally (``exc`` None) or stopped by ``exc``."""


class Schedule:
    """A way to hand the plan out to the ranks."""

    name: ClassVar[str]
    thread_level: ClassVar[str] = "funneled"  # MPI_THREAD_MULTIPLE ("multiple"): a thread serves

    def hand_out(self, team: Team, plan: Sequence[Any]) -> Handout:
        """This rank's chunks of ``plan`` (the plan is known on rank 0 only)."""
        raise NotImplementedError


class _Share:
    """One share, given once."""

    def __init__(self, chunk: Chunk) -> None:
        self._chunk = chunk

    def __iter__(self) -> Iterator[Chunk]:
        return iter((self._chunk,))

    def stop(self, exc: BaseException | None) -> None:
        pass


class StaticSchedule(Schedule):
    """Rank 0 cuts the plan into one share per rank and scatters them."""

    def split(self, count: int, ranks: int) -> list[range]:
        """One share of ``range(count)`` per rank."""
        raise NotImplementedError

    def hand_out(self, team: Team, plan: Sequence[Any]) -> Handout:
        """Pickled on rank 0 first, so that an item that cannot be sent is named on every rank
        (exit 2) before any is sent."""
        shares: Iterable[bytes] | None = team.decide(lambda: [
            sendable(indices, schedules.take(plan, indices))
            for indices in self.split(len(plan), team.size)])
        return _Share(pickle.loads(team.comm.scatter(shares, root=ROOT)))
