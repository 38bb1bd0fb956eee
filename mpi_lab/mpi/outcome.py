"""What a rank reports after its share, and how a failure is named (shared by the schedules)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mpi_lab.errors import LabError
from mpi_lab.report import RankReport

# (exit code, message naming rank and host, the worker's traceback or "")
Failure = tuple[int, str, str]


@dataclass(frozen=True)
class Outcome:
    """What a rank tells the others after its share: its report, or what went wrong; the
    plan's index ranges it ran, in its order; the bytes of results it sends by Gatherv; the
    progress reports it sent rank 0 (``tally``)."""

    report: RankReport | None
    error: Failure | None = None
    ranges: list[range] = field(default_factory=list)
    nbytes: int = 0
    reports: int = 0


def where(rank: int) -> str:
    return f"rank {rank} on host {os.uname().nodename}"


def failed(rank: int, error: LabError) -> Outcome:
    """A failed share: exit code and a message naming rank, host and cause."""
    return Outcome(None, (error.exit_code, f"{where(rank)}: {error}",
                          getattr(error, "remote_traceback", "")))


def succeeded(report: RankReport, ranges: list[range], results: list[Any],
              laid_out: bool) -> Outcome:
    """A share done: with laid-out results, how many bytes they make on the wire."""
    nbytes = sum(view.nbytes for view in results) if laid_out else 0
    return Outcome(report, ranges=ranges, nbytes=nbytes)
