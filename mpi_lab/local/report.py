"""What a run reports: the answer, the model used, the time, and what each rank did."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mpi_lab.backends import Choice
    from mpi_lab.local.jobs import Job

# Keys of the lab's own; a workload's parameters and answer fields never replace them.
LAB_KEYS = ("workload", "params", "answer", "backend", "workers", "ranks", "schedule",
            "seconds", "per_rank")


@dataclass(frozen=True)
class RankReport:
    """What one rank did: its host, its workers, how many items, how long its share took, and
    the backend that ran them (``auto`` may have left subinterpreters on one rank only)."""

    rank: int
    host: str
    workers: int
    items: int
    seconds: float
    backend: str = ""

    @classmethod
    def since(cls, started: float, *, rank: int, workers: int, items: int,
              backend: str = "") -> RankReport:
        """This host's report of a share begun at ``started`` (``time.perf_counter``)."""
        return cls(rank, os.uname().nodename, workers, items, time.perf_counter() - started,
                   backend)


@dataclass
class Report:
    """The outcome of a run: ``answer`` is what the workload's ``combine`` returned;
    ``seconds`` the time from plan to answer; ``per_rank`` what each rank did."""

    job: Job
    answer: Any
    backend: str
    workers: int
    ranks: int
    schedule: str | None  # how rank 0 split the items; None without MPI
    seconds: float
    per_rank: list[RankReport]
    backend_why: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # what the run adds (the file saved)
    timeline: dict[str, Any] | None = None  # each worker's items, if a timeline was asked for

    @classmethod
    def finished(cls, job: Job, answer: Any, choice: Choice, *, schedule: str | None,
                 started: float, per_rank: list[RankReport],
                 ended: float | None = None) -> Report:
        """The report of a run that began at ``started`` (``time.perf_counter``) and ended at
        ``ended`` (None: now); its workers are rank 0's (each rank's are in ``per_rank``)."""
        ended = time.perf_counter() if ended is None else ended
        return cls(job=job, answer=answer, backend=choice.name, backend_why=choice.why,
                   workers=per_rank[0].workers, ranks=len(per_rank), schedule=schedule,
                   seconds=ended - started, per_rank=per_rank)

    @property
    def explain(self) -> dict[str, Any] | None:
        """Where the run's time went (``explain=True``): parts, per rank; else None."""
        return self.extra.get("explain")

    @property
    def workload(self) -> str:
        """The workload's name, as the user gave it."""
        return self.job.name

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def text(self) -> str:
        """The answer in a line of text."""
        return self.job.workload.answer_text(self.answer, self.params)

    def to_dict(self) -> dict[str, Any]:
        """One JSON object: the lab's keys, and, beside them, the parameters and the answer's
        fields (so ``pi`` says ``trials`` and ``hits`` at the top)."""
        answer = self.job.workload.answer_json(self.answer)
        fields: dict[str, Any] = {"workload": self.workload}
        beside = {**_jsonable(self.params), **(answer if isinstance(answer, dict) else {})}
        fields.update({key: value for key, value in beside.items() if key not in LAB_KEYS})
        fields.update({
            "params": _jsonable(self.params),
            "answer": answer,
            "backend": self.backend,
            "workers": self.workers,
            "ranks": self.ranks,
            "schedule": self.schedule,
            "seconds": round(self.seconds, 6),
            **self.extra,
            "per_rank": [asdict(rank) for rank in self.per_rank],
        })
        return fields


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON holds them (what it cannot, as ``repr``)."""
    from mpi_lab.workloads.contract import jsonable

    return {key: jsonable(value) for key, value in params.items()}
