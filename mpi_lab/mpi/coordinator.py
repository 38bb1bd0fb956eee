"""The MPI side of the run frame: rank 0 plans and hands out shares, each rank maps its share
through its local backend, rank 0 gathers and combines (``RankTeam``, driven by ``frame``).

Failure rule: every rank reaches the same collectives whatever happens to its share. A rank
whose share failed tells the others at once (``failfast``: they abandon theirs) and says so in
its outcome; the outcomes are exchanged with ``allgather``, so every rank learns of any failure
at the same point and all raise it together (``agreed``), without ``MPI_Abort``. Anything
outside that envelope is left to ``guard`` (the command line) or ``exits`` (a script), which
end the job.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from mpi_lab.backends import Choice
from mpi_lab.cluster import detect
from mpi_lab.core import env
from mpi_lab.core.backoff import Backoff
from mpi_lab.core.errors import (
    ConfigError,
    KernelFailed,
    LabError,
    PeerFailed,
    ending_behind,
    failed_error,
    rank_failed,
    record_of,
)
from mpi_lab.core.failures import Failure
from mpi_lab.core.kernel_calls import unpickled
from mpi_lab.core.machine import local_cores
from mpi_lab.core.protocol import GATHER_ROUND_BYTES, ROOT
from mpi_lab.core.results import Results, in_plan_order, nbytes, pack, rounds, unpack
from mpi_lab.core.results import results as typed_results
from mpi_lab.endings import interrupts, lifeline
from mpi_lab.local import timing
from mpi_lab.local.jobs import Job
from mpi_lab.local.runner import Share, run_share, typecode
from mpi_lab.local.slots import PlanSlots, buffer, one_buffer
from mpi_lab.mpi import comm as mpi_comm
from mpi_lab.mpi import exits, failfast, schedules
from mpi_lab.mpi.outcome import Outcome, abandoned, failed, succeeded, where
from mpi_lab.progress import tally

T = TypeVar("T")


def idle_wait(comm: Any, check: Callable[[], None] | None = None) -> None:
    """A barrier that sleeps instead of spinning; ``check`` is asked between looks.

    Ranks that finish early would otherwise busy-poll inside the next collective and take CPU
    from ranks still computing, which matters when ranks outnumber cores.
    """
    request = comm.Ibarrier()
    backoff = Backoff()
    while not request.Test():
        if check is not None:
            check()
        backoff.sleep()


def auto_workers(comm: Any) -> int:
    """Cores of this node divided by the ranks on this node, at least 1.

    Capped by the cores this rank may run on (a launcher may bind it to one core, and more
    workers would only take turns on it), and in a Slurm job by the CPUs each task was given.
    """
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        local_ranks = node.Get_size()
    finally:
        node.Free()
    return share_of_node(local_ranks)


def share_of_node(local_ranks: int, environ: Mapping[str, str] | None = None) -> int:
    """This rank's share of the CPUs its node gives us (a container's or job's cpuset, else
    the machine's), when ``local_ranks`` ranks run there."""
    from mpi_lab.cluster.pinning import node_cpus

    environ = os.environ if environ is None else environ
    count = min(len(node_cpus()) // local_ranks, local_cores())
    per_task = env.read(env.SLURM_CPUS_PER_TASK, environ)
    if per_task.isdigit():
        count = min(count, int(per_task))
    return max(1, count)


@functools.cache  # one watcher per process, however many runs it makes
def _follow_launcher(rank: int) -> None:
    """End this rank if its launcher daemon dies (e.g. mpiexec gave up on a lost host)."""
    parent = detect.launcher_parent()
    if parent is not None:
        # A dead launcher cannot remove the MPI library's files (shared memory, session): we do.
        lifeline.exit_with(parent, f"Error: {where(rank)}: the MPI launcher is gone; ending",
                           before=mpi_comm.forget_launcher_files)


class Agreement(NamedTuple):
    """What the ranks settle before a run: the most workers any runs, whether the live line
    is shown (as rank 0 wants it, if every rank is ``able`` to report: MPI let it start threads
    that call MPI), and every rank's host."""

    workers: int
    shown: bool
    able: bool
    hosts: list[str]


def agree(comm: Any, workers: int, progress: bool, able: bool) -> Agreement:
    """Every rank's wishes (``progress``: rank 0's counts), settled on every rank."""
    wishes = comm.allgather((workers, progress, able, os.uname().nodename))
    every = all(a for _, _, a, _ in wishes)
    return Agreement(max(w for w, _, _, _ in wishes), wishes[ROOT][1] and every, every,
                     [host for _, _, _, host in wishes])


def _multiple() -> bool:
    """MPI runs with ``MPI_THREAD_MULTIPLE`` (threads may call it beside the main thread)."""
    from mpi4py import MPI

    return bool(MPI.Query_thread() >= MPI.THREAD_MULTIPLE)


def join(schedule: str | None, start_method: str | None, deadline: float | None) -> RankTeam:
    """This rank's place in the MPI job's run: MPI started (with the thread level the run
    needs; progress, failing fast and the deadline's word on each rank want more, and the run
    goes on without them if they must), the launcher followed, a script's exit rules set."""
    needed = schedules.get(schedule or schedules.DEFAULT).thread_level
    comm = mpi_comm.world("multiple", required=needed)
    exits.install(comm)
    if why := exits.broken():
        raise LabError(f"no run can start on this rank: {why}")
    # The same options reach every rank, so every rank refuses these together.
    if start_method == "fork":
        raise rank_failed(
            "start method 'fork' is unsafe once MPI is initialised; use forkserver or spawn",
            ConfigError.exit_code,
        )
    return RankTeam(comm, deadline is not None)


class RankTeam:
    """The ranks of an MPI job making one run together, seen from this rank."""

    def __init__(self, comm: Any, deadline: bool) -> None:
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.owner = f"rank {self.rank}"
        self.distributed = True
        self.deadline = deadline
        self.multiple = _multiple()
        self.collector: tally.Collector | None = None
        self.reports = False  # every rank reports its progress to rank 0
        self.watch: failfast.Watch | None = None  # the last share's, until its notices settle

    # -- starting ---------------------------------------------------------------------------

    def start(self) -> None:
        """Every rank is here (the clock starts once they are: rank 0 waiting for a late
        starter in its first collective is start-up, not compute)."""
        _follow_launcher(self.rank)
        exits.started_run()
        idle_wait(self.comm, functools.partial(exits.check, self.comm))

    def workers(self, asked: int | None) -> int:
        return asked if asked is not None else auto_workers(self.comm)

    def agree(self, workers: int, progress: bool) -> tuple[int, bool]:
        """The most workers of any rank, and whether the live line is shown. Ranks report
        their progress to rank 0 for the line, or for the deadline's word on where each is."""
        settled = agree(self.comm, workers, progress, self.multiple)
        self.reports = settled.able and (settled.shown or self.deadline)
        if self.reports and self.rank == ROOT:
            self.collector = tally.Collector(self.comm, hosts=settled.hosts)
        return settled.workers, settled.shown

    def standing(self) -> interrupts.Standing | None:
        """How rank 0 says where every rank is, if it hears of them."""
        return self.collector.standing if self.collector is not None else None

    def progress_view(self, shown: bool) -> tally.Collector | None:
        return self.collector if shown else None

    # -- deciding together ------------------------------------------------------------------

    def decide(self, step: Callable[[], T], idle: bool = False) -> T | None:
        """``step()`` on rank 0 (its value there, None elsewhere); a ``LabError`` it raises
        is raised on every rank, together. ``idle``: the others sleep while rank 0 works."""
        value = None
        verdict: Failure | None = None
        if self.rank == ROOT:
            try:
                value = step()
            except LabError as exc:
                verdict = record_of(exc)
        if idle:
            idle_wait(self.comm)
        verdict = self.comm.bcast(verdict, root=ROOT)
        if verdict is not None:
            raise rank_failed(verdict.line(), verdict.exit_code, verdict.traceback, verdict)
        return value

    def broadcast(self, value: T | None) -> T:
        """Rank 0's ``value``, on every rank."""
        return self.comm.bcast(value, root=ROOT)  # type: ignore[no-any-return]

    def to_root(self, value: T) -> list[T] | None:
        """Every rank's ``value``, in rank order, on rank 0 (None on the others)."""
        return self.comm.gather(value, root=ROOT)  # type: ignore[no-any-return]

    # -- the share --------------------------------------------------------------------------

    def share(self, job: Job, plan: Sequence[Any], schedule: str | None, choice: Choice,
              workers: int, start_method: str | None, slots: PlanSlots | None,
              ) -> tuple[Outcome, Results | list[Any], Choice]:
        """This rank's share of ``plan`` (on rank 0; the others get theirs from it), as
        ``schedule`` hands it out: its outcome, results and backend. Another rank's failure
        stops it."""
        with tally.reporting(self.comm, self.reports) as reporter, \
                failfast.Watch(self.comm, self.multiple) as watch:
            outcome, done = self._share(job, plan, schedule or schedules.DEFAULT, choice, workers,
                                        start_method, slots, watch)
        if reporter is not None:
            outcome = outcome._replace(reports=reporter.sent)
        if self.collector is not None:
            self.collector.finished[ROOT] = True
        self.watch = watch
        if done is None:
            return outcome, [], choice
        return outcome, done.results, done.choice

    def _share(self, job: Job, plan: Sequence[Any], schedule: str, choice: Choice,
               workers: int, start_method: str | None, slots: PlanSlots | None,
               watch: failfast.Watch) -> tuple[Outcome, Share | None]:
        travelling = self.rank != ROOT
        handout = schedules.get(schedule).hand_out(self, plan)
        try:
            done = run_share(job, handout, choice, workers, start_method=start_method,
                             rank=self.rank, travelling=travelling, plan_slots=slots,
                             window=watch.window, among_ranks=self.size > 1)
            with timing.phase("waiting"):  # rank 0: for the other ranks' last requests
                handout.stop(None)
        except BaseException as caught:
            exc = ending_behind(caught) or caught  # a run's end, whatever it surfaced as
            if isinstance(exc, LabError):
                watch.tell_others()  # first: they stop now, while this rank tidies up
            handout.stop(exc)
            if isinstance(exc, PeerFailed):
                return abandoned(), None
            if isinstance(exc, LabError):
                return failed(self.rank, exc)._replace(told=watch.told), None
            if exc is caught:
                raise
            raise exc from None
        return succeeded(done, job.layout is not None), done

    def exchange(self, outcome: Outcome) -> list[Outcome]:
        """Every rank's outcome, on every rank; the first failure (the lowest rank's), if any,
        raised on all of them together; nothing of the share left in flight."""
        idle_wait(self.comm)
        outcomes: list[Outcome] = self.comm.allgather(outcome)
        if self.watch is not None:
            self.watch.settle(rank for rank, o in enumerate(outcomes) if o.told)
        if self.collector is not None:
            self.collector.drain([o.reports for o in outcomes])  # the reports still in flight
        errors = [o.error for o in outcomes if o.error is not None]
        if errors:
            error = errors[0]
            raise rank_failed(error.line(), error.exit_code, error.traceback, error)
        return outcomes

    # -- results ----------------------------------------------------------------------------

    def gather(self, job: Job, plan: Sequence[Any], results: Results | list[Any],
               outcomes: list[Outcome], slots: PlanSlots | None) -> list[Any] | None:
        """The other ranks' results on rank 0 (rank 0's own stay where they are): with a
        layout, their bytes by ``Gatherv`` in rounds (``GATHER_ROUND_BYTES``), each round's
        copied into ``slots`` (None returned: every result is in its slot), or without slots
        received into one buffer for them all, a part per rank; else their pickles."""
        comm = self.comm
        if job.layout is None:
            return comm.gather(None if self.rank == ROOT else list(results), root=ROOT) or []
        limit = max(1, GATHER_ROUND_BYTES // max(1, self.size - 1))
        # Every rank knows every rank's bytes (the outcomes): all make the same rounds.
        count = max(1, -(-max((o.nbytes for o in outcomes[1:]), default=0) // limit))
        if self.rank != ROOT:
            self._send_rounds(list(results), count, limit)
            return []
        return _receive_rounds(self.comm, job, plan, outcomes, slots, count, limit)

    def _send_rounds(self, views: list[memoryview], count: int, limit: int) -> None:
        """This rank's laid-out results to rank 0, in ``count`` rounds."""
        from mpi4py import MPI

        sizes = [view.nbytes for view in views]
        bounds = rounds(sizes, count, limit)
        offsets = list(itertools.accumulate(sizes, initial=0))
        whole = one_buffer(views)  # results written in place: sent as they are
        for first, last in itertools.pairwise(bounds):
            sending = (whole[offsets[first] : offsets[last]] if whole is not None
                       else pack(views[first:last]))
            self.comm.Gatherv([sending, MPI.BYTE], None, root=ROOT)

    def in_plan_order(self, job: Job, plan: Sequence[Any], outcomes: list[Outcome],
                      results: Results | list[Any], parts: list[Any] | None,
                      slots: PlanSlots | None) -> Results:
        """On rank 0: every rank's results, in plan order."""
        return _in_plan_order(job, plan, outcomes, results, parts, slots)


def _receive_rounds(comm: Any, job: Job, plan: Sequence[Any], outcomes: list[Outcome],
                    slots: PlanSlots | None, count: int, limit: int) -> list[Any] | None:
    """On rank 0: the ranks' laid-out results, ``count`` rounds of ``Gatherv``, into their
    ``slots`` through one round's buffer (None returned), or without slots into one buffer
    (a part per rank). A failure to place one is raised once every round is in."""
    from mpi4py import MPI

    layout = job.slot_layout(travelling=True)
    indices = [[index for span in o.ranges for index in span] if rank else []
               for rank, o in enumerate(outcomes)]
    layouts = [[layout(plan[index]) for index in ranked] for ranked in indices]  # type: ignore[misc]
    sizes = [[nbytes(one) for one in ranked] for ranked in layouts]
    bounds = [rounds(ranked, count, limit) for ranked in sizes]
    offsets = [list(itertools.accumulate(ranked, initial=0)) for ranked in sizes]
    ranks = range(len(outcomes))
    counts = [[offsets[r][bounds[r][k + 1]] - offsets[r][bounds[r][k]] for r in ranks]
              for k in range(count)]
    if slots is None:
        starts = list(itertools.accumulate((o[-1] for o in offsets), initial=0))
        whole = buffer(starts[-1], job.uses_numpy())
        for k in range(count):
            displacements = [starts[r] + offsets[r][bounds[r][k]] for r in ranks]
            comm.Gatherv([bytearray(0), MPI.BYTE], [whole, counts[k], displacements, MPI.BYTE],
                         root=ROOT)
        return [whole[starts[r] : starts[r + 1]] for r in ranks]
    staging = buffer(max(sum(sent) for sent in counts), job.uses_numpy())
    failure: Exception | None = None
    for k in range(count):
        comm.Gatherv([bytearray(0), MPI.BYTE], [staging, counts[k], MPI.BYTE], root=ROOT)
        at = 0
        for r in ranks:
            part, at = staging[at : at + counts[k][r]], at + counts[k][r]
            first, last = bounds[r][k], bounds[r][k + 1]
            if failure is not None:
                continue  # the rounds go on: the other ranks are in them
            try:
                for index, view in zip(indices[r][first:last],
                                       unpack(part, layouts[r][first:last]), strict=True):
                    slots.put(index, view)
            except Exception as exc:  # noqa: BLE001 - raised once the rounds are over
                failure = exc
    if failure is not None:
        raise failure
    return None


def _in_plan_order(job: Job, plan: Sequence[Any], outcomes: list[Outcome],
                   results: Results | list[Any], parts: list[Any] | None,
                   slots: PlanSlots | None) -> Results:
    """Every rank's results, in plan order (on rank 0): its own, and the others' parts (typed
    views of the bytes they sent; loaded from their pickles); ``parts`` None: every result
    is in its slot already (``gather`` put the others' there)."""

    if parts is None and slots is not None:
        return slots.results()
    layout = job.slot_layout(travelling=True)
    pieces = [(outcomes[0].ranges, results)]
    for rank, (other, part) in enumerate(zip(outcomes[1:], parts[1:], strict=True), start=1):
        indices = [index for indices in other.ranges for index in indices]
        try:
            if layout is not None:  # the bytes it sent, as one typed view per result
                part = unpack(part, (layout(plan[index]) for index in indices))  # noqa: PLW2901
            else:  # its results, pickled where they were made
                part = [unpickled(raw, index, plan[index])  # noqa: PLW2901
                        for index, raw in zip(indices, part, strict=True)]
        except KernelFailed as exc:
            raise failed_error(exc.failure.at(rank, outcomes[rank].host)) from None
        pieces.append((other.ranges, part))
    placed = in_plan_order(len(plan), pieces)
    return typed_results(placed, typecode(job, plan[0] if len(plan) else None))


