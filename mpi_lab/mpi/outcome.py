"""What a rank reports after its share, and how a failure is named (shared by the schedules)."""

from __future__ import annotations

import os
from typing import NamedTuple

from mpi_lab.core.errors import LabError, record_of
from mpi_lab.core.failures import Failure
from mpi_lab.local.report import RankReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mpi_lab.local.runner import Share


class Outcome(NamedTuple):
    """What a rank tells the others after its share: its report, or what went wrong (a
    ``Failure`` naming rank, host, item and cause; none if it only stopped because another
    rank failed); the plan's index ranges it ran, in its order; the bytes of results it sends
    by Gatherv; the progress reports it sent rank 0 (``tally``); whether it told the others
    of its failure (``failfast``), and its host. A named tuple: every run makes one."""

    report: RankReport | None
    error: Failure | None = None
    ranges: list[range] = []  # noqa: RUF012 - never changed in place, only replaced
    nbytes: int = 0
    reports: int = 0
    told: bool = False
    host: str = ""


def where(rank: int) -> str:
    return f"rank {rank} on host {os.uname().nodename}"


def failed(rank: int, error: LabError) -> Outcome:
    """A failed share: its failure record, said to be this rank's."""
    host = os.uname().nodename
    return Outcome(None, record_of(error).at(rank, host), host=host)


def abandoned() -> Outcome:
    """A share this rank stopped because another rank failed: nothing of its own to say."""
    return Outcome(None, host=os.uname().nodename)


def succeeded(share: Share, laid_out: bool) -> Outcome:
    """A share done: with laid-out results, how many bytes they make on the wire."""
    nbytes = sum(view.nbytes for view in share.results) if laid_out else 0
    return Outcome(share.report, ranges=share.ranges, nbytes=nbytes, host=share.report.host)
