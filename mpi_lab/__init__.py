"""mpi_lab: one lab for Python's parallel models, from threads to MPI.

For scripts and notebooks::

    import mpi_lab

    report = mpi_lab.run("examples.primes", params={"limit": 100_000}, backend="process-pool")
    print(report.answer, report.seconds, report.backend)

``run`` takes a workload (see ``mpi_lab.workloads.contract``) as a spec string, a module, or an
object with ``plan``, ``kernel`` and ``combine``. Under ``mpiexec`` the same call runs across
the ranks: rank 0 gets the report, the others None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpi_lab.report import RankReport, Report

__version__ = "0.1.0"
__all__ = ["RankReport", "Report", "__version__", "run"]


def __getattr__(name: str) -> Any:
    # Loaded on use: the command line imports this package, and its start-up stays short.
    if name in ("Report", "RankReport"):
        from mpi_lab import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(workload: Any, *, params: dict[str, Any] | None = None, backend: str = "auto",
        workers: int | None = None, schedule: str | None = None,
        start_method: str | None = None, mpi: bool | None = None,
        progress: bool = False) -> Report | None:
    """Run ``workload`` with ``params`` (for its ``plan``) through ``backend`` with
    ``workers`` (None: one per core, shared by the ranks of a node).

    ``workload``: ``"module"`` or ``"module:name"``, a module, or an object with ``plan``,
    ``kernel`` and ``combine``. ``schedule`` (block, cyclic, dynamic) splits the plan across
    MPI ranks; ``mpi=None`` runs across ranks only when started by ``mpiexec``/``srun``.
    ``progress=True`` shows items done, rate and time left live on stderr (rank 0's).
    Returns the ``Report`` (``answer``, ``seconds``, ``backend``, ``per_rank``, ...), or None
    on ranks other than 0. Raises ``mpi_lab.errors.ConfigError`` for bad input (a kernel in
    ``__main__`` with process or subinterpreter workers, say) and ``WorkerError`` when a
    kernel fails (``remote_traceback`` holds the worker's traceback).
    """
    from mpi_lab.errors import ConfigError
    from mpi_lab.jobs import Job
    from mpi_lab.mpi.launch import use_mpi
    from mpi_lab.mpi.schedules import SCHEDULES

    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be None or at least 1 (got {workers})")
    if schedule is not None and schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    job = Job.of(workload, params)
    if use_mpi(mpi):
        from mpi_lab.mpi import coordinator

        return coordinator.run(job, backend, workers, start_method=start_method,
                               schedule=schedule, progress=progress)
    from mpi_lab.runner import run_local

    return run_local(job, backend, workers, start_method=start_method, progress=progress)
