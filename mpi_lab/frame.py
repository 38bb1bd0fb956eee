"""The one run frame: every run goes through ``run``, from the CLI, ``mpi_lab.run`` in a script
or a notebook, alone or as one rank of an MPI job.

    options, job ──> ends (signals, deadline + backstop)
                 ──> team: this process alone (LocalTeam), or the MPI ranks (coordinator.RankTeam)
                 ──> start ── workers ── progress ── decide on rank 0: plan + backend
                 ──> share: the local backend maps the kernel over this rank's items
                 ──> exchange outcomes (a failure is raised everywhere at once)
                 ──> gather ── decide on rank 0: combine ──> Report (rank 0), None elsewhere

A local run is the same frame with a team of one: the same checks, endings, progress and
errors, whether the run was started by the command line or by a script.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from mpi_lab.backends import Choice
from mpi_lab.cluster.detect import env_rank, use_mpi
from mpi_lab.core.errors import ConfigError, RunEnded, ending_behind
from mpi_lab.core.machine import local_cores
from mpi_lab.core.protocol import ROOT
from mpi_lab.core.results import Results
from mpi_lab.endings import interrupts
from mpi_lab.local import explaining, mainguard, timing
from mpi_lab.local.jobs import Job
from mpi_lab.local.report import Report
from mpi_lab.local.runner import plan_slots, resolve, run_share
from mpi_lab.local.slots import PlanSlots
from mpi_lab.mpi import schedules
from mpi_lab.mpi.outcome import Outcome, succeeded
from mpi_lab.options import RunOptions
from mpi_lab.progress import live_line
from mpi_lab.progress import meter as lab_progress

T = TypeVar("T")
Backstop = Callable[[float], contextlib.AbstractContextManager[Any]]


class Team(Protocol):
    """The processes that make a run together, seen from this one."""

    rank: int
    size: int
    owner: str  # whose items this process's meter counts: "" alone, "rank 3" under MPI
    distributed: bool

    def start(self) -> None: ...
    def workers(self, asked: int | None) -> int: ...
    def agree(self, workers: int, progress: bool) -> tuple[int, bool]: ...
    def standing(self) -> interrupts.Standing | None: ...
    def progress_view(self, shown: bool) -> Any: ...
    def decide(self, step: Callable[[], T], idle: bool = False) -> T | None: ...
    def broadcast(self, value: T | None) -> T: ...
    def to_root(self, value: T) -> list[T] | None: ...
    def share(self, job: Job, plan: Sequence[Any], schedule: str | None, choice: Choice,
              workers: int, start_method: str | None, slots: PlanSlots | None,
              ) -> tuple[Outcome, Any, Choice]: ...
    def exchange(self, outcome: Outcome) -> list[Outcome]: ...
    def gather(self, job: Job, plan: Sequence[Any], results: Any, outcomes: list[Outcome],
               slots: PlanSlots | None) -> list[Any] | None: ...
    def in_plan_order(self, job: Job, plan: Sequence[Any], outcomes: list[Outcome],
                      results: Any, parts: list[Any] | None,
                      slots: PlanSlots | None) -> Results: ...


class _LocalView:
    """The live line's source alone: this process's meter, against the plan's size."""

    def __init__(self) -> None:
        self.total = 0

    def poll(self) -> lab_progress.Status:
        return lab_progress.Status(lab_progress.current().done, self.total)


class LocalTeam:
    """A run without MPI: this process is the whole team."""

    rank = ROOT
    size = 1
    owner = ""
    distributed = False

    def start(self) -> None:
        pass

    def workers(self, asked: int | None) -> int:
        return asked if asked is not None else local_cores()

    def agree(self, workers: int, progress: bool) -> tuple[int, bool]:
        return workers, progress

    def standing(self) -> interrupts.Standing | None:
        return None

    def progress_view(self, shown: bool) -> _LocalView | None:
        return _LocalView() if shown else None

    def decide(self, step: Callable[[], T], idle: bool = False) -> T | None:
        return step()

    def broadcast(self, value: T | None) -> T:
        return value  # type: ignore[return-value]

    def to_root(self, value: T) -> list[T] | None:
        return [value]

    def share(self, job: Job, plan: Sequence[Any], schedule: str | None, choice: Choice,
              workers: int, start_method: str | None, slots: PlanSlots | None,
              ) -> tuple[Outcome, Any, Choice]:
        done = run_share(job, [(range(len(plan)), plan)], choice, workers,
                         start_method=start_method, plan_slots=slots)
        return succeeded(done, job.layout is not None), done.results, done.choice

    def exchange(self, outcome: Outcome) -> list[Outcome]:
        return [outcome]

    def gather(self, job: Job, plan: Sequence[Any], results: Any, outcomes: list[Outcome],
               slots: PlanSlots | None) -> list[Any] | None:
        return []

    def in_plan_order(self, job: Job, plan: Sequence[Any], outcomes: list[Outcome],
                      results: Any, parts: list[Any] | None,
                      slots: PlanSlots | None) -> Results:
        return slots.results() if slots is not None and slots.used else results


def run(job: Job, options: RunOptions, *, output: str | None = None) -> Report | None:
    """Run ``job`` as ``options`` say: the ``Report`` on rank 0 (or alone), None on the other
    ranks; with ``output``, rank 0 saves the answer there by the workload's ``save`` (checked
    before the plan, written all or nothing). Raises ``ConfigError`` (bad input, exit 2),
    ``WorkerError`` (a kernel, its result, ``combine`` or ``save`` failed, exit 1; the same on
    every rank under MPI, but for ``save``), ``Interrupted`` (a signal, 128 + N) or
    ``DeadlinePassed`` (124)."""
    if mainguard.in_reimport():
        raise SystemExit(
            "Error: mpi_lab.run was called again in a worker process, which imports the script"
            " that started it: put the code that runs under `if __name__ == \"__main__\":`"
        )
    interrupts.end_scripts_alike()
    mpi = use_mpi(options.mpi)
    with interrupts.run_ends(options.deadline, env_rank() if mpi else ROOT, _backstop(options)):
        team: Team
        if mpi:
            from mpi_lab.mpi import coordinator, exits

            team = coordinator.join(_schedule(job, options),
                                    options.start_method, options.deadline)
            try:
                return _ended_as_such(_run, job, options, team, output)
            except RunEnded as ended:
                # Ranks stop wherever they were: this job's collectives are out of step now.
                exits.mark_broken(f"an earlier run ended early ({ended.line})")
                raise
        return _ended_as_such(_run, job, options, LocalTeam(), output)


def _ended_as_such(step: Callable[..., T], *args: Any) -> T:
    """``step(*args)``; an error raised while the run was ending (a lock half released as the
    deadline struck) is that end."""
    try:
        return step(*args)
    except Exception as exc:
        ending = ending_behind(exc)
        if ending is None:
            raise
        raise ending from None


def _backstop(options: RunOptions) -> Backstop | None:
    """The deadline's backstop, which can end an MPI job (loaded only for a deadline)."""
    if options.deadline is None:
        return None
    from mpi_lab.mpi import watchdog

    return watchdog.backstop


def _schedule(job: Job, options: RunOptions) -> str:
    """The run's schedule: the one asked for, else the workload's own (checked here, where it
    enters a run)."""
    return options.schedule or schedules.check(job.default_schedule, f"{job.name}: schedule")


def _run(job: Job, options: RunOptions, team: Team, output: str | None) -> Report | None:
    lab_progress.start(team.owner)
    team.start()
    warm_up = job.preload()
    started = time.perf_counter()
    recorder = None
    if options.explain or options.timeline is not None:
        recorder = timing.Recorder(started, spans=options.timeline is not None)
    with timing.recording(recorder):
        try:
            return _steps(job, options, team, output, started, warm_up)
        except BaseException as exc:
            # What it measured up to the end, on this process (a bad input: nothing to say).
            if recorder is not None and not isinstance(exc, ConfigError):
                exc.explain = explaining.partial(recorder, team.rank)  # type: ignore[union-attr]
                if options.timeline is not None and team.rank == ROOT:
                    _save_partial_timeline(recorder, job, options.timeline, exc.explain)  # type: ignore[union-attr]
            raise


def _save_partial_timeline(recorder: timing.Recorder, job: Job, path: str,
                           measured: dict[str, Any]) -> None:
    """The timeline of a run that did not finish, as far as this process saw it; whether it
    was saved is said in ``measured`` (nothing may hide why the run ended)."""
    from mpi_lab.present import timeline

    try:
        timeline.save_timeline(explaining.partial_timeline(recorder, job.name), path)
    except Exception as exc:  # noqa: BLE001 - the run's own end is what the user must see
        measured["timeline_error"] = f"{type(exc).__name__}: {exc}"
    else:
        measured["timeline"] = path


def _steps(job: Job, options: RunOptions, team: Team, output: str | None, started: float,
           warm_up: float | None) -> Report | None:
    """The run from its plan to its report (``started``: the clock's start)."""
    workers = team.workers(options.workers)
    most_workers, shown = team.agree(workers, live_line.wanted(options.progress))
    schedule = _schedule(job, options) if team.distributed else None
    view = team.progress_view(shown)
    teller = team.standing()
    with contextlib.ExitStack() as around:
        if teller is not None:
            around.enter_context(interrupts.standing(teller))
        around.enter_context(live_line.shown(job.name, view.poll if view is not None else None))
        with timing.phase("plan"):  # on other ranks: waiting for rank 0's plan
            decided = team.decide(lambda: _plan(job, options, most_workers, output))
            plan, choice = decided if decided is not None else ([], None)
            choice = team.broadcast(choice)
        if view is not None:
            view.total = len(plan)
        # Rank 0's results stay: in place (if they can be), at their places in the whole plan.
        slots = plan_slots(job, plan) if team.rank == ROOT else None
        outcome, results, used = team.share(job, plan, schedule, choice, workers,
                                            options.start_method, slots)
        with timing.phase("waiting"):  # for the other ranks to finish their shares
            outcomes = team.exchange(outcome)
    with timing.phase("receiving"):
        parts = team.gather(job, plan, results, outcomes, slots)
    # Rank 0's combine may fail: every rank hears of it and raises it.
    with timing.phase("combine"):
        answer = team.decide(lambda: job.combine(
            team.in_plan_order(job, plan, outcomes, results, parts, slots)), idle=True)
    ended = time.perf_counter()
    recorder = timing.current()
    measured = None
    if recorder is not None:
        if team.rank == ROOT:
            recorder.bytes["receiving"] += sum(o.nbytes for o in outcomes[1:])
        measured = team.to_root(explaining.measured(recorder, team.rank, ended - started))
    if team.rank != ROOT:
        return None
    per_rank = [o.report for o in outcomes if o.report is not None]
    report = Report.finished(job, answer, used, schedule=schedule, started=started,
                             per_rank=per_rank, ended=ended)
    if warm_up:
        report.extra["warm_up_seconds"] = warm_up  # start-up, outside ``seconds``
    if measured is not None:
        explained, report.timeline = explaining.merged(
            measured, job.name, used.name, options.timeline is not None)
        if options.explain:  # a timeline alone does not print the breakdown
            report.extra["explain"] = explained
        if options.timeline is not None:
            from mpi_lab.present import timeline

            timeline.save_timeline(report.timeline, options.timeline)
            report.extra["timeline"] = options.timeline
    if output is not None:
        from mpi_lab.present import files  # tempfile and pathlib: only a run that saves

        files.save(functools.partial(job.save, answer), output)
        report.extra["output"] = output
    return report


def _plan(job: Job, options: RunOptions, workers: int,
          output: str | None) -> tuple[Sequence[Any], Choice]:
    """On rank 0: the output and timeline files' checks, the plan, and the backend for it."""
    if output is not None:
        from mpi_lab.present import files  # tempfile and pathlib: only a run that saves

        files.check_output_path(output, job.output_size(output))
    if options.timeline is not None:
        from mpi_lab.present import timeline

        timeline.check_timeline_path(options.timeline)
    plan = job.plan()
    return plan, resolve(job, options.backend, workers, options.start_method)
