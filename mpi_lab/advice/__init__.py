"""Advice: which parallel model, how many workers and ranks, for one workload, on this machine.

``advise`` measures the workload briefly (``calibrate``), predicts the time of the whole plan
for every backend, worker count, rank count and schedule (``model``), picks one and says why in
a line (``recommend``), and can run the best few to compare (``verify``). ``command_line`` is the
click command the CLI registers; it reaches the API through the function it is given.

Owns: the calibration, the time model, the recommendation and its text and JSON forms.

May import: ``mpi_lab.backends``, ``mpi_lab.local.jobs``, ``mpi_lab.mpi.schedules`` (names and
chunk size), ``mpi_lab.workloads``, ``mpi_lab.progress``, ``mpi_lab.cluster`` (``mpiexec``),
``mpi_lab.core``, ``mpi_lab.present``; not the API (``mpi_lab.run`` is handed in to ``verify``)
nor the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpi_lab.advice.recommend import Advice

__all__ = ["advise"]


def advise(workload: Any, params: dict[str, Any] | None = None, ranks: int | None = None,
           *, verify: bool = False, run: Callable[..., Any] | None = None,
           show: Callable[[str], None] | None = None) -> Advice:
    """Measure ``workload`` with ``params``, predict every point, recommend one.

    ``ranks``: also predict that many MPI ranks. ``verify``: run the recommendation and the
    next two best, with ``run`` (``mpi_lab.run``) locally, under ``mpiexec`` for several ranks.
    ``show``: called with a line per calibration step (progress for a person).
    """
    from mpi_lab.advice import calibrate, model, recommend
    from mpi_lab.core.errors import ConfigError
    from mpi_lab.local.jobs import Job

    if ranks is not None and (isinstance(ranks, bool) or not isinstance(ranks, int)
                              or ranks < 1):
        raise ConfigError(f"ranks must be a whole number of at least 1 (got {ranks!r})")
    job = Job.of(workload, params)
    measured = calibrate.measure(job, ranks=ranks, show=show)
    predictions = model.predict_all(measured, ranks, job.default_schedule)
    advice = recommend.choose(job, measured, predictions)
    if verify:
        from mpi_lab.advice import verify as checking

        if run is None:
            raise ValueError("verify=True needs the run function (mpi_lab.run)")
        advice.verified = checking.check(workload, job, advice, run, show=show)
    return advice
