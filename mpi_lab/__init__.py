"""mpi_lab: one lab for Python's parallel models, from threads to MPI.

For scripts and notebooks::

    import mpi_lab

    if __name__ == "__main__":  # worker processes import this script again: see below
        report = mpi_lab.run("examples.primes", params={"limit": 100_000},
                             backend="process-pool")
        print(report.answer, report.seconds, report.backend)

``run`` takes a workload (see ``mpi_lab.workloads.contract``) as a spec string, a module, or an
object with ``plan``, ``kernel`` and ``combine``. Under ``mpiexec`` the same call runs across
the ranks: rank 0 gets the report, the others None. It is the command line's run, option for
option (the CLI calls it): the same checks, signals, deadline, progress and errors.

How a run flows (one direction; the room that does each step in brackets)::

    CLI (cli) or mpi_lab.run (here)
      |  RunOptions: every option checked once, where it enters              [options]
      v
    the run frame: ends (signals, deadline), team (alone, or the ranks)      [frame, endings]
      |  Job: the workload and its params; plan() on rank 0                 [local.jobs, workloads]
      v
    schedule: rank 0 hands the plan out (block, cyclic: scatter;             [mpi.schedules]
      |       dynamic: chunks on request); without MPI, the whole plan
      v
    backend.map(kernel, items) on each rank: its workers call the kernel     [backends,
      |  in a guard that names a failing item                                 core.kernel_calls]
      v
    results in place: typed slots of the plan (Gatherv to rank 0 under MPI)  [local.slots,
      |                                                                        core.results, mpi]
      v
    combine(results in plan order) -> answer -> Report                       [local.report]
      |
      v
    printed once (text or --json) by the CLI, or returned                    [present, cli]

The rooms, top to bottom; each imports only rooms below it (``tests/test_layout.py``)::

    cli, __main__        click commands: parse, call the API, print
    bench                the benchmark matrix
    (this package)       run(); frame, options, info
    advice               advise(): calibration, time model, recommendation
    present              text, files, images
    mpi                  the MPI runtime: coordinator, schedules, comm, exits, failfast
    local                one process's part: jobs, runner, slots, report, mainguard
    backends             the parallel models and their registry (capability flags)
    workloads            the workload contract and the built-ins (pi, fractal)
    endings              signals and the deadline as one exception; lifelines
    progress             meter, live line, the ranks' tally
    cluster              MPI set-up: launch detection, MCA files, launcher, pinning
    core                 errors and exit codes, failure records, env, protocol constants,
                         typed results, the kernel call in a worker, machine facts
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpi_lab.advice.recommend import Advice
    from mpi_lab.local.report import RankReport, Report

__version__ = "0.1.0"
__all__ = ["RankReport", "Report", "__version__", "advise", "run"]


def __getattr__(name: str) -> Any:
    # Loaded on use: the command line imports this package, and its start-up stays short.
    if name in ("Report", "RankReport"):
        from mpi_lab.local import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(workload: Any, *, params: dict[str, Any] | None = None, backend: str = "auto",
        workers: int | None = None, schedule: str | None = None,
        start_method: str | None = None, mpi: bool | None = None,
        progress: bool | None = False, deadline: float | None = None,
        output: str | os.PathLike[str] | None = None, explain: bool = False,
        timeline: str | os.PathLike[str] | None = None) -> Report | None:
    """Run ``workload`` with ``params`` (for its ``plan``) through ``backend`` with
    ``workers`` (None: one per core, shared by the ranks of a node).

    ``workload``: ``"module"``, ``"module:name"`` or ``"path/to/file.py[:name]"``, a module, or
    an object with ``plan``, ``kernel`` and ``combine``. ``schedule`` (block, cyclic, dynamic)
    splits the plan across MPI ranks; ``mpi=None`` runs across ranks only when started by
    ``mpiexec``/``srun``. ``progress=True`` shows items done, rate and time left live on
    stderr (rank 0's; None: when stderr is a terminal). ``deadline``: seconds after which the
    run ends (``DeadlinePassed``). ``output``: a file rank 0 saves the answer to by the
    workload's ``save`` hook (checked before anything runs; written all or nothing).
    ``explain=True``: ``Report.explain`` says where the time went (start-up, plan, sending,
    compute, waiting, receiving, combine, other; per rank); a run that fails or is stopped
    carries what it measured as its exception's ``explain``. ``timeline``: a ``.png`` or
    ``.json`` (Chrome trace) file rank 0 draws each worker's items in (``Report.timeline``).

    Returns the ``Report`` (``answer``, ``seconds``, ``backend``, ``per_rank``, ...), or None
    on ranks other than 0. Raises (``mpi_lab.core.errors``; each has the CLI's ``exit_code``):
    ``ConfigError`` for bad input, before anything runs; ``WorkerError`` when a kernel, its
    result or ``combine`` fails (``remote_traceback`` holds the worker's traceback; under MPI
    every rank raises it, at once); ``Interrupted`` (a ``KeyboardInterrupt``) for SIGINT,
    SIGTERM and SIGHUP; ``DeadlinePassed`` for the deadline. Nothing it started is left
    behind, however it ends.
    """
    from mpi_lab import frame
    from mpi_lab.core.errors import LabError
    from mpi_lab.local.jobs import Job
    from mpi_lab.options import RunOptions

    try:
        options = RunOptions(backend=backend, workers=workers, schedule=schedule,
                             start_method=start_method, mpi=mpi, progress=progress,
                             deadline=deadline, explain=explain, timeline=timeline)
        return frame.run(Job.of(workload, params), options,
                         output=None if output is None else os.fspath(output))
    except LabError as exc:
        # Where it went wrong is said in its message (and the worker's traceback, its cause):
        # the traceback shown ends at the caller's line, not inside the lab.
        raise exc.with_traceback(None) from exc.__cause__


def advise(workload: Any, params: dict[str, Any] | None = None, ranks: int | None = None,
           verify: bool = False, *, show: Any = None) -> Advice:
    """Measure ``workload`` briefly and advise a backend, workers, ranks and schedule.

    Returns an ``Advice``: ``recommendation`` (with ``reason``), every prediction, the
    calibration, and with ``verify=True`` the recommendation and the next two best run and
    measured (``verified``). ``ranks``: also predict that many MPI ranks. ``show``: called
    with a line per calibration step. Raises ``ConfigError`` for a bad workload or
    parameter, as ``run`` does. See ``mpi_lab.advice`` and docs/advice.md.
    """
    from mpi_lab import advice
    from mpi_lab.core.errors import LabError

    try:
        return advice.advise(workload, params, ranks, verify=verify, run=run, show=show)
    except LabError as exc:
        raise exc.with_traceback(None) from exc.__cause__
