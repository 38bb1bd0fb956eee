"""What a rank reports after its share, and how a failure is named (shared by the schedules)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mpi_lab.errors import LabError
from mpi_lab.jobs import Job
from mpi_lab.runner import RankReport


@dataclass(frozen=True)
class Outcome:
    """What a rank tells the others after its share: its report, or what went wrong."""

    report: RankReport | None
    error: tuple[int, str] | None = None
    elements: int = 0  # pixels this rank sends with Gatherv
    items: list[Any] | None = None  # the chunks of items it ran, when the schedule was dynamic


def where(rank: int) -> str:
    return f"rank {rank} on host {os.uname().nodename}"


def failed(rank: int, error: LabError) -> Outcome:
    """A failed share: exit code and a message naming rank, host and cause."""
    return Outcome(None, (error.exit_code, f"{where(rank)}: {error}"))


def succeeded(job: Job, report: RankReport, part: Any, items: list[Any] | None = None) -> Outcome:
    return Outcome(report, elements=job.elements(part), items=items)
