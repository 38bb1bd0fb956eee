"""Runs a job's items on one process through a backend: a rank's share, or a whole local run.

Whatever the backend, one item's failure comes back as one error naming the item: the kernel
raised (``WorkerError``, exit 1), its result could not travel back (``WorkerError``), or the
item or kernel could not be sent to a worker (``ConfigError``, exit 2, known before it ran).
A kernel that cannot run in a subinterpreter (it imports NumPy, say) is refused in one line,
or, where ``auto`` chose the subinterpreters, run by the model ``auto`` picks without them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from mpi_lab import backends
from mpi_lab.backends._base import Backend  # every run needs it: loaded before the clock
from mpi_lab.core import env
from mpi_lab.core.errors import (
    ConfigError,
    ItemNotSent,
    KernelFailed,
    NotInSubinterpreter,
    ending_behind,
    failed_error,
)
from mpi_lab.core.failures import Failure, import_name
from mpi_lab.core.kernel_calls import (
    Guarded,
    Timed,
    fitted,
    import_paths,
    loads,
    module_of,
    one_line,
    probe,
    short_repr,
    unpicklable_part,
    unpickled,
)
from mpi_lab.core.results import Results
from mpi_lab.core.results import results as typed_results
from mpi_lab.local import mainguard, timing
from mpi_lab.local.jobs import Job
from mpi_lab.local.report import RankReport
from mpi_lab.local.slots import PlanSlots, back_to_back
from mpi_lab.progress import meter as lab_progress

Chunk = tuple[range, Sequence[Any]]  # plan indices, and the items at them
Window = Callable[[], AbstractContextManager[Any]]  # around each map: where a peer's failure may stop it


class Numbered(Sequence[tuple[int, Any]]):
    """``(index, item)`` for the items of a chunk, made as they are taken: a kernel's failure
    can then name the item's place in the plan."""

    def __init__(self, indices: range, items: Sequence[Any]) -> None:
        self.indices = indices
        self.items = items

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, at: Any) -> Any:
        if isinstance(at, slice):
            return [self[k] for k in range(*at.indices(len(self)))]
        return self.indices[at], self.items[at]

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return zip(self.indices, self.items, strict=True)


def resolve(job: Job, backend: str, workers: int, start_method: str | None) -> backends.Choice:
    """The backend for ``job``: what its kernels need (NumPy, or living in ``__main__``), and
    whether worker processes would run the user's script again (no main guard)."""
    in_main = job.in_main()
    unguarded = mainguard.unguarded_call(start_method)
    # Python 3.14+ runs a guarded script's functions in subinterpreters: auto may choose them.
    rerun = in_main and mainguard.script_rerun() and backends.reaches_main("interpreter-pool")
    again = mainguard.unguarded_rerun() if rerun else None
    choice = backends.resolve(backend, job.uses_numpy(), workers, start_method,
                              in_main=in_main and not (rerun and again is None),
                              unguarded=unguarded is not None, workload=job.name)
    declared = backends.flags(choice.name)
    if in_main:  # only then: loading the backend's class costs time in the clock
        if again is not None and declared.subinterpreters:
            raise ConfigError(mainguard.advice(
                again, choice.name, "runs this script's functions in subinterpreters"))
        job.check_reachable(choice.name, declared.in_process or (
            rerun and backends.reaches_main(choice.name)))
    if unguarded is not None and declared.starts_processes:
        raise ConfigError(mainguard.advice(unguarded, choice.name))
    return choice


def carry_mode(pool: Backend, job: Job, travelling: bool) -> str | None:
    """How each result is made ready in its worker (``Guarded.carry``): typed to its layout
    when it crosses into this process by pipe or queue, pickled when it crosses without one
    (or could have gone to another rank: ``travelling``), else as it is."""
    crossing = not pool.in_process
    if job.layout is not None:
        return "typed" if crossing and not pool.places_laid_out_results else None
    return "pickle" if crossing or travelling else None


def map_items(pool: Backend, kernel: Guarded, tasks: Numbered, job: Job,
              into: dict[int, memoryview] | None = None, travelling: bool = False,
              window: Window = contextlib.nullcontext, among_ranks: bool = False,
              arriving: PlanSlots | None = None) -> list[Any]:
    """``pool.map`` of the kernel over ``tasks``, each failure one error naming its item; the
    results are counted on this process's progress meter, and typed if the workload declares
    their layout (pickled bytes, for results that go on to rank 0 without one). ``into``: each
    item's slot, which the kernel writes its result into (in-process workers). ``arriving``:
    the slots that laid-out results from worker processes are copied into as they come (so
    they are not all held at once). ``window``: entered around the map, where a peer rank's
    failure may stop it. ``among_ranks``: the results stay here, but any item could have
    fallen to another rank: they must be able to travel all the same (so a run fails alike
    whichever rank an item falls to)."""
    if not tasks:
        return []
    meter = lab_progress.current()
    before = meter.done
    meter.plan(len(tasks), tasks.indices)

    # Results that cross a process boundary anyway travel as narrow as the layout allows.
    layout = job.slot_layout(travelling or not pool.in_process)
    mode = None if into is not None else carry_mode(pool, job, travelling or among_ranks)
    recorder = timing.current()
    kernel = (Guarded if recorder is None else Timed)(
        kernel.kernel, kernel.paths, into, mode, layout if mode == "typed" else None)

    def typed(raw: Any, item: Any) -> memoryview:
        return memoryview(raw).cast(layout(item)[0])  # type: ignore[misc]

    place = None
    if arriving is not None and layout is not None and not pool.in_process:
        def place(task: tuple[int, Any], value: Any) -> memoryview:
            index, item = task
            return arriving.put(index, typed(value, item) if mode == "typed" else value)
    stamps: list[timing.Stamp] = []
    if recorder is not None and place is not None:
        place = _stamped(place, stamps)
    try:
        started = time.perf_counter()
        with window():
            values = pool.map(kernel, tasks, meter.advance,
                              layout=None if layout is None else lambda task: layout(task[1]),
                              place=place)
        if recorder is not None:
            ended = time.perf_counter()
            pairs, values = (stamps, values) if stamps else (
                [v[1] for v in values], [value for value, _ in values])
            recorder.mapped(started, ended, pairs, pool.workers,
                            *_crossing_bytes(tasks, values, pool))
        with timing.phase("receiving"):
            values = _as_results(values, tasks, job, mode, layout, into, place, travelling)
    except BaseException as exc:
        if recorder is not None:  # a map that did not finish: counted whole, not split
            recorder.add("compute", started, time.perf_counter())
            recorder.estimated.add("compute")
        if not isinstance(exc, Exception):
            raise
        ending = ending_behind(exc)
        if ending is not None:  # the run ended as it waited: not a failure of its item
            raise ending from None
        _raise_failure(exc, job, pool, tasks, before)
        raise
    return values


def _stamped(place: Any, stamps: list[timing.Stamp]) -> Any:
    """``place`` for a timed kernel's ``(value, stamp)``: the stamp kept, the value placed."""
    def place_value(task: tuple[int, Any], pair: tuple[Any, timing.Stamp]) -> Any:
        stamps.append(pair[1])
        return place(task, pair[0])
    return place_value


def _crossing_bytes(tasks: Numbered, values: list[Any], pool: Backend) -> tuple[int, int]:
    """The bytes of items that crossed to the workers (the first one's pickle, times their
    number: an estimate) and of results that crossed back (0, 0 for in-process workers)."""
    if pool.in_process:
        return 0, 0
    import pickle

    sent = len(pickle.dumps(tasks[0], protocol=pickle.HIGHEST_PROTOCOL)) * len(tasks)
    return sent, sum(memoryview(value).nbytes for value in values
                     if isinstance(value, bytes | bytearray | memoryview))


def _as_results(values: list[Any], tasks: Numbered, job: Job, mode: str | None,
                layout: Any, into: Any, place: Any, travelling: bool) -> list[Any]:
    """What the pool returned, as results: typed or unpickled back, or fitted to the layout
    (results placed as they came, or written in place, are so already)."""
    if place is not None:  # each one is in its slot already
        return values

    def typed(raw: Any, item: Any) -> memoryview:
        return memoryview(raw).cast(layout(item)[0])  # type: ignore[no-any-return]

    if mode == "typed":
        return [typed(raw, item) for (_, item), raw in zip(tasks, values, strict=True)]
    if mode == "pickle" and not travelling:
        return [unpickled(raw, index, item)
                for (index, item), raw in zip(tasks, values, strict=True)]
    if layout is not None and into is None:
        return [fitted(value, layout(item), index, item)
                for (index, item), value in zip(tasks, values, strict=True)]
    return values


def _raise_failure(exc: Exception, job: Job, pool: Backend, tasks: Numbered,
                   before: int) -> None:
    """``exc``, from a map, as the lab reports it: one error naming the item, or the refusal
    of a subinterpreter (with the progress it counted taken back); anything else as it is."""
    meter = lab_progress.current()
    if isinstance(exc, KernelFailed):
        if not pool.runs_numpy and exc.failure.is_a("ImportError"):
            meter.forget(len(tasks), meter.done - before)
            cause = exc.failure.cause.partition(": ")[2]
            raise NotInSubinterpreter(f"{exc.failure.kinds[0]}: {one_line(cause)}",
                                      exc.failure.module) from None
        raise failed_error(exc.failure) from None
    if isinstance(exc, ItemNotSent):
        raise ConfigError(_not_sent(job, pool, exc)) from None
    # Imported here: concurrent.futures costs start-up time that serial runs do not need.
    from concurrent.futures import BrokenExecutor

    if isinstance(exc, BrokenExecutor):  # e.g. BrokenProcessPool: a worker process died
        raise failed_error(Failure(f"a worker process died: {exc}")) from exc


def _not_sent(job: Job, pool: Backend, exc: ItemNotSent) -> str:
    """An item the pool could not hand to a worker, named with the part that failed."""
    index, item = exc.item
    return (f"{job.name}: item {index} ({short_repr(item)}) could not be sent to a worker of"
            f" {pool.name!r}: {unpicklable_part(item)} cannot be pickled"
            f" ({type(exc.cause).__name__}); use an in-process backend"
            f" ({', '.join(backends.in_process_names())})")


def sendable(indices: range, items: Sequence[Any]) -> bytes:
    """A chunk pickled, to send to another rank; an item that does not pickle is named
    (``ConfigError``, exit 2: known before it runs)."""
    import pickle  # here: a run without workers elsewhere pickles nothing

    try:
        return pickle.dumps((indices, items), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - find which item, and what in it
        for index, item in zip(indices, items, strict=True):
            try:
                pickle.dumps(item)
            except Exception:  # noqa: BLE001 - this one
                raise ConfigError(
                    f"item {index} ({short_repr(item)}) could not be sent to another rank:"
                    f" {unpicklable_part(item)} cannot be pickled ({type(exc).__name__})"
                ) from None
        raise ConfigError(f"items {indices.start}..{indices.stop - 1} could not be sent to"
                          f" another rank ({type(exc).__name__}: {exc})") from None


def _probe(pool: Backend, kernel: Guarded, task: tuple[int, Any]) -> None:
    """``NotInSubinterpreter`` at once if a subinterpreter cannot load the kernel or an item
    (a pool would wait for ever on a task its worker cannot unpickle)."""
    import pickle

    if module_of(kernel.kernel) == "__main__":
        # A script's function reaches a subinterpreter only through the pool's own transfer
        # (3.14+ runs the script there as it unpickles): that failing raises, it does not hang.
        try:
            pool.map(loads, [(kernel, task)])
        except Exception as exc:  # noqa: BLE001 - whatever stops it is the answer
            deepest = _deepest(exc)
            raise NotInSubinterpreter(
                "the script, run again in a subinterpreter to find the kernel, did not give"
                f" it ({type(deepest).__name__}: {one_line(str(deepest))}): what the script"
                " imports at its top level must load there", import_name(deepest)) from None
        return
    ((why, module),) = pool.map(probe, [pickle.dumps((kernel, task))])
    if why:
        raise NotInSubinterpreter(why, module)


def _deepest(exc: BaseException) -> BaseException:
    """The error at the root of ``exc``: through causes, and errors carried as arguments."""
    for _ in range(10):
        carried = [arg for arg in exc.args if isinstance(arg, BaseException)]
        below = exc.__cause__ or exc.__context__ or (carried[-1] if carried else None)
        if below is None:
            break
        exc = below
    return exc


def _check_sendable(job: Job, pool: Backend, kernel: Guarded) -> None:
    """The kernel pickles, for workers in other processes or interpreters (exit 2 if not)."""
    import pickle

    try:
        pickle.dumps(kernel)
    except Exception as exc:  # noqa: BLE001 - whatever stops it is the answer
        raise ConfigError(
            f"{job.name}: backend {pool.name!r} sends the kernel to its workers, and"
            f" {unpicklable_part(kernel.kernel)} in it cannot be pickled"
            f" ({type(exc).__name__}); use an in-process backend"
            f" ({', '.join(backends.in_process_names())})"
        ) from None


def rank_kernel(job: Job, rank: int = 0) -> Guarded:
    """The job's kernel as this rank runs it: guarded, reachable from every worker, and
    faulty if a test asked for that."""
    kernel = job.kernel
    if env.read(env.FAULT):  # only the tests ask: a plain run does not load the module
        from mpi_lab.core import faults

        kernel = faults.inject(kernel, rank)
    return Guarded(kernel, import_paths(job.kernel))


class Share(NamedTuple):
    """What a rank did with its share: the plan's ranges it ran (in its order), their results,
    its report, and the backend that ran them (``auto`` may have changed its mind)."""

    ranges: list[range]
    results: Results
    report: RankReport
    choice: backends.Choice


def run_share(job: Job, chunks: Iterable[Chunk], choice: backends.Choice, workers: int, *,
              start_method: str | None = None, rank: int = 0, travelling: bool = False,
              plan_slots: PlanSlots | None = None, window: Window = contextlib.nullcontext,
              among_ranks: bool = False) -> Share:
    """Map the kernel over every chunk this rank is given (its static share, or dynamic
    chunks as they come); ``among_ranks``: one of several ranks (``map_items``).

    Where the kernel can write in place and the workers share this process, results go
    into ``plan_slots`` (the whole plan's, for results that stay here), or else each
    chunk's back to back into a buffer; results from worker processes are copied into
    ``plan_slots`` as they arrive. ``travelling``: the results go to another rank, in
    the layout's wire typecode if it has one.
    """
    started = time.perf_counter()
    ranges: list[range] = []
    values: list[Any] = []
    kernel = rank_kernel(job, rank)
    numpy = job.uses_numpy()
    first = None
    with contextlib.ExitStack() as stack:
        with timing.phase("start-up"):
            pool = stack.enter_context(backends.create(choice.name, workers,
                                                       start_method=start_method))
        # Subinterpreter backends are probed before the first chunk (the lab's own workloads
        # are known to load there, and the probe would delay a second worker's start).
        probed = pool.runs_numpy or module_of(kernel.kernel).startswith("mpi_lab.")
        if not pool.in_process:
            _check_sendable(job, pool, kernel)
        for indices, items in timing.timed(chunks, "sending"):
            if first is None and len(items):
                first = items[0]
            tasks = Numbered(indices, items)
            while True:
                try:
                    if not probed and len(items):
                        _probe(pool, kernel, (indices[0], items[0]))
                        probed = True
                    into = None
                    if pool.in_process and job.writes_in_place:
                        into = plan_slots.slots(indices) if plan_slots is not None else \
                            back_to_back(job.slot_layout(travelling), tasks, numpy)
                    values.extend(map_items(pool, kernel, tasks, job, into, travelling, window,
                                            among_ranks, arriving=plan_slots))
                    break
                except NotInSubinterpreter as refused:
                    choice = _without_subinterpreters(job, pool, choice, refused, start_method)
                    stack.close()  # this pool is done with; the chunk runs again on the next
                    pool = stack.enter_context(backends.create(choice.name, workers,
                                                               start_method=start_method))
                    if not pool.in_process:
                        _check_sendable(job, pool, kernel)
                    probed = True
            ranges.append(indices)
        closing = time.perf_counter()
    if (recorder := timing.current()) is not None:  # the pool closed: its workers' end
        recorder.add("start-up", closing, time.perf_counter())
    # The workers the backend really runs (serial has one, whatever was asked).
    report = RankReport.since(started, rank=rank, workers=pool.workers, items=len(values),
                              backend=pool.name)
    return Share(ranges, typed_results(values, typecode(job, first)), report, choice)


def _without_subinterpreters(job: Job, pool: Backend, choice: backends.Choice,
                             refused: NotInSubinterpreter,
                             start_method: str | None) -> backends.Choice:
    """What runs the kernel instead, where ``auto`` chose subinterpreters; else the one-line
    refusal (exit 2)."""
    if not choice.auto:
        raise ConfigError(
            f"{job.name}: backend {pool.name!r} runs subinterpreters, and its kernel cannot"
            f" run there ({refused.why}): NumPy and other extension modules that do not"
            " support subinterpreters cannot load in one. If the kernel imports NumPy, say so"
            " (needs_numpy = True: auto then picks threads), or choose another backend"
        )
    return backends.without_subinterpreters(
        refused.why, numpy=refused.module.partition(".")[0] == "numpy",
        processes=mainguard.unguarded_call(start_method) is None, in_main=job.in_main())


def plan_slots(job: Job, plan: Sequence[Any]) -> PlanSlots | None:
    """Slots for every result of ``plan``, if its kernel writes in place (used only where
    the workers share this process)."""
    if not job.writes_in_place:
        return None
    return PlanSlots(job.slot_layout(travelling=False), plan, job.uses_numpy())


def typecode(job: Job, item: Any) -> str | None:
    """The typecode the layout declares for results (as of ``item``'s), for
    ``Results.flat``."""
    if job.layout is None or item is None:
        return None
    return str(job.layout(item)[0])
