"""Measures a workload briefly: item time and spread, sizes, pickling, threads, start-ups.

Every step runs within one budget: at most 10 % of the predicted serial time of the plan, or
``MAX_BUDGET`` seconds, whichever is less. The first item is always measured (the budget is
known only from it); each later step runs only if its expected cost still fits, else its
figure comes from ``DEFAULTS`` (constants measured on the lab's 2-core machine, Python 3.13)
and the step is listed as skipped.
"""

from __future__ import annotations

import math
import os
import pickle
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpi_lab import backends
from mpi_lab.core.machine import local_cores
from mpi_lab.local.jobs import Job

MAX_BUDGET = 5.0  # seconds: the calibration's ceiling, however long the plan
BUDGET_SHARE = 0.10  # of the predicted serial time
SAMPLES = 32  # items timed at spread positions of the plan, while the budget lasts
MIN_SAMPLE = 0.002  # seconds: a fast item is repeated until its timing is this long
MAX_REPEATS = 200
FIRST_AGAIN = 0.05  # seconds: a first item quicker than this is timed again, warm
MOST_THREADS = 64  # threads advised for a kernel that mostly waits, at most
THREAD_WORK = 0.03  # seconds of work per thread in the threads step, at least
NEW_BACKEND_STARTUP = (0.04, 0.015)  # a backend registered after the defaults were taken
GOLDEN = 0.6180339887498949  # sampling step, as a share of the plan  # no-op items mapped to measure a pool's cost per item


@dataclass(frozen=True)
class Defaults:
    """Figures used where a step did not fit the budget (measured on the lab's machine)."""

    # backend -> (seconds to start and close a pool of one worker, extra seconds per worker)
    startup: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "serial": (0.0, 0.0),
        "threads": (0.002, 0.0005),
        "thread-pool": (0.002, 0.0005),
        "asyncio": (0.004, 0.0005),
        "process-pool": (0.012, 0.006),
        "shared-memory": (0.012, 0.006),
        "interpreter-pool": (0.025, 0.015),
        "interpreters": (0.04, 0.015),
    })
    # backend -> seconds a run spends per item besides the kernel and pickling (hand-off,
    # queue, pipe, the lab's bookkeeping): mpi_lab.run of 20 000 trivial items, 2 workers.
    per_item: dict[str, float] = field(default_factory=lambda: {
        "serial": 1.2e-6, "threads": 2.5e-6, "thread-pool": 5e-6, "asyncio": 2.2e-5,
        "process-pool": 8e-5, "shared-memory": 7.5e-5, "interpreter-pool": 4.5e-5,
        "interpreters": 2e-5,
    })
    # the same by kind, for a backend registered after these figures were taken
    per_item_by_kind: dict[str, float] = field(default_factory=lambda: {
        "serial": 1.2e-6, "in_process": 5e-6, "processes": 8e-5, "subinterpreters": 4.5e-5,
    })
    launch: tuple[float, float] = (0.10, 0.01)  # mpiexec: seconds for 1 rank, per more rank
    pipe_bytes_per_second: float = 1.0e9  # pipe between processes, beside pickling
    request_seconds: float = 5e-4  # one dynamic-schedule request between ranks


DEFAULTS = Defaults()


def kind(name: str) -> str:
    """serial, in_process, processes or subinterpreters: how backend ``name`` reaches its
    workers, from its flags."""
    flags = backends.flags(name)
    if name == "serial":
        return "serial"
    if flags.in_process:
        return "in_process"
    return "subinterpreters" if flags.subinterpreters else "processes"


@dataclass
class Step:
    name: str
    seconds: float
    note: str = ""
    optional: bool = True  # run only within the budget (the first ones always run)
    started_at: float = 0.0  # seconds into the calibration


@dataclass
class Calibration:
    """What ``measure`` found; figures it did not measure hold the defaults (``assumed``)."""

    items: int
    cores: int
    item_seconds: float  # the mean compute time of an item (``average``)
    item_samples: list[tuple[int, float]]  # (plan position, seconds)
    item_bytes: int
    result_bytes: int
    pickle_seconds: float  # pickling + unpickling one item and one result
    gil: bool
    thread_parallel: float  # 0: threads take turns (the GIL), 1: they run fully in parallel
    subinterpreters: str  # "" if the kernel loads in a subinterpreter, else why not
    processes: str  # "" if worker processes can run the kernel, else why not
    available: list[str]
    unavailable: dict[str, str]
    startup: dict[str, dict[int, float]]  # backend -> workers -> seconds (measured or default)
    per_item: dict[str, float]  # backend -> seconds per item, besides pickling (``DEFAULTS``)
    launch: dict[int, float]  # ranks -> seconds to start them, beyond one process
    has_layout: bool
    budget: float = 0.0
    seconds: float = 0.0
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    cpu_share: float = 1.0  # of an item's time on the CPU; the rest waits (I/O, sleep)

    @property
    def serial_seconds(self) -> float:
        return self.items * self.item_seconds

    def thread_counts(self) -> list[int]:
        """Worker counts for threads: to the cores, and beyond for a kernel that mostly
        waits (its threads wait side by side: cores / CPU share of them keep the cores busy)."""
        counts = worker_counts(self.cores)
        if self.cpu_share < 0.5:
            most = min(self.items, MOST_THREADS, math.ceil(self.cores / max(self.cpu_share, 1e-3)))
            count = counts[-1] * 2
            while count <= most:
                counts.append(count)
                count *= 2
        return counts


    @property
    def spread(self) -> float:
        """Coefficient of variation of the sampled item times (0: even items)."""
        times = [seconds for _, seconds in self.item_samples]
        if len(times) < 2 or self.item_seconds <= 0:
            return 0.0
        return statistics.pstdev(times) / statistics.fmean(times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items, "cores": self.cores, "item_seconds": self.item_seconds,
            "item_samples": [{"position": at, "seconds": s} for at, s in self.item_samples],
            "item_spread": self.spread, "item_bytes": self.item_bytes,
            "result_bytes": self.result_bytes, "pickle_seconds": self.pickle_seconds,
            "gil": self.gil, "thread_parallel": self.thread_parallel,
            "subinterpreters": self.subinterpreters or "loads",
            "processes": self.processes or "runs",
            "available": self.available, "unavailable": self.unavailable,
            "startup_seconds": {name: {str(w): s for w, s in by.items()}
                                for name, by in self.startup.items()},
            "per_item_seconds": self.per_item,
            "launch_seconds": {str(r): s for r, s in self.launch.items()},
            "budget_seconds": self.budget, "seconds": self.seconds,
            "steps": [{"step": s.name, "seconds": s.seconds, "note": s.note,
                       "optional": s.optional, "started_at": s.started_at}
                      for s in self.steps],
            "skipped": self.skipped, "assumed": self.assumed, "cpu_share": self.cpu_share,
        }


def worker_counts(cores: int) -> list[int]:
    """1 .. cores: the powers of two and the core count."""
    counts = {cores}
    count = 1
    while count < cores:
        counts.add(count)
        count *= 2
    return sorted(counts)


class _Clock:
    """The budget: steps run while their expected cost fits, and are recorded."""

    def __init__(self, show: Callable[[str], None] | None) -> None:
        self.started = time.perf_counter()
        self.budget = float("inf")  # until the first item is measured
        self.steps: list[Step] = []
        self.skipped: list[str] = []
        self.show = show

    def used(self) -> float:
        return time.perf_counter() - self.started

    def outside(self, seconds: float) -> None:
        """Leave ``seconds`` just spent out of the budget's count."""
        self.started += seconds

    def fits(self, name: str, expected: float = 0.0) -> bool:
        """Whether an optional step expected to take ``expected`` seconds fits the budget
        (0: its cost is unknown, and it starts if the budget is not used up)."""
        if self.used() + expected <= self.budget and self.used() < self.budget:
            return True
        self.skipped.append(name)
        return False

    def record(self, name: str, started: float, note: str = "", optional: bool = True) -> None:
        step = Step(name, time.perf_counter() - started, note, optional,
                    started - self.started)
        self.steps.append(step)
        if self.show:
            self.show(f"advise: {name}: {note} ({step.seconds:.3g} s)")

    def summary(self) -> None:
        if self.show and self.skipped:
            self.show(f"advise: budget of {self.budget:.3g} s used: {len(self.skipped)} steps"
                      " skipped, their figures assumed")


def _timed(kernel: Callable[[Any], Any], item: Any, limit: float) -> tuple[float, Any]:
    """Seconds one call of ``kernel(item)`` takes (repeated while short, within ``limit``)
    and its result."""
    started = time.perf_counter()
    result = kernel(item)
    once = time.perf_counter() - started
    if once >= MIN_SAMPLE:
        return once, result
    repeats = min(MAX_REPEATS, int(min(MIN_SAMPLE, limit) / max(once, 1e-7)))
    if repeats < 2:
        return once, result
    started = time.perf_counter()
    for _ in range(repeats):
        kernel(item)
    return (time.perf_counter() - started) / repeats, result


def average(samples: list[tuple[int, float]], count: int) -> float:
    """The mean item time over the plan: a line through the samples by plan position,
    taken at the plan's middle (the one sample if there is one; their median if the line
    would go below the fastest)."""
    if len(samples) < 2:
        return samples[0][1]
    xs = [float(at) for at, _ in samples]
    ys = [seconds for _, seconds in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    middle = mean_y + slope * ((count - 1) / 2 - mean_x)
    return middle if middle >= min(ys) else statistics.median(ys)


def _positions(count: int) -> list[int]:
    """Plan positions to sample: the ends, then golden-ratio steps through the plan (they
    fall on no period of the plan, as halves and quarters would)."""
    marks = [0, count - 1]
    marks += [int((step * GOLDEN) % 1.0 * count) for step in range(1, 4 * SAMPLES)]
    return list(dict.fromkeys(at for at in marks if 0 <= at < count))[:SAMPLES]


def measure(job: Job, *, ranks: int | None = None,
            show: Callable[[str], None] | None = None) -> Calibration:
    """Calibrate ``job`` on this machine within the budget (see the module's docstring)."""
    run = _Calibrating(job, _Clock(show))
    # Items first, while the budget lasts (their cost is known only once run): the last
    # item shows a trend along the plan, then whether threads overlap, then the rest.
    positions = _positions(run.count)[1:]
    if positions and run.clock.fits(f"item {positions[0]}"):  # the last: a trend shows
        run.sample(positions.pop(0))
    # Up to half the budget for items before the threads step: it times the mean item.
    while positions and run.clock.used() < run.clock.budget / 2 and run.clock.fits(
            f"item {positions[0]}"):
        run.sample(positions.pop(0))
    thread_parallel = run.threads()
    for at in positions:
        if not run.clock.fits(f"item {at}"):
            break
        run.sample(at)
    available, unavailable, reasons = run.backends()
    startup, per_item = run.startups(available)
    launch = {ranks: run.launch(ranks)} if ranks is not None and ranks > 1 else {}
    run.clock.summary()
    return Calibration(
        items=run.count, cores=run.cores, item_seconds=average(run.samples, run.count),
        item_samples=sorted(run.samples), item_bytes=run.item_bytes,
        result_bytes=run.result_bytes, pickle_seconds=run.pickling, gil=run.gil,
        thread_parallel=thread_parallel, subinterpreters=reasons[1], processes=reasons[0],
        available=available, unavailable=unavailable, startup=startup, per_item=per_item,
        launch=launch, has_layout=job.layout is not None, budget=run.clock.budget,
        seconds=run.clock.used(), steps=run.clock.steps, skipped=run.clock.skipped,
        assumed=run.assumed, cpu_share=run.cpu_share,
    )


class _Calibrating:
    """One calibration's steps and what they found so far."""

    def __init__(self, job: Job, clock: _Clock) -> None:
        self.job, self.clock = job, clock
        self.plan: Sequence[Any] = job.plan()
        self.count = len(self.plan)
        if self.count == 0:
            from mpi_lab.core.errors import ConfigError

            raise ConfigError(f"{job.name}: the plan has no items: nothing to advise on")
        self.cores = local_cores()
        self.gil = backends.gil_enabled()
        self.assumed: list[str] = []
        started = time.perf_counter()
        job.preload()  # NumPy's import and the workload's warm_up: start-up, as in a run
        clock.record("preload", started, "imports and warm_up, outside the budget",
                     optional=False)
        clock.outside(time.perf_counter() - started)  # a run pays it too, before its clock
        started = time.perf_counter()
        cpu, wall = time.thread_time(), time.perf_counter()
        first, result = _timed(job.kernel, self.plan[0], MAX_BUDGET)
        # The share of an item spent on this thread's CPU; the rest is waiting (I/O, sleep),
        # which other threads fill even under the GIL.
        self.cpu_share = min(1.0, (time.thread_time() - cpu)
                             / max(time.perf_counter() - wall, 1e-9))
        # A first call pays one-time costs (a library's first use): timed again, warm, where
        # the budget holds a few items (a short plan's goes to the last item, for a trend).
        if first < FIRST_AGAIN and BUDGET_SHARE * self.count >= 3:
            first = min(first, _timed(job.kernel, self.plan[0], MAX_BUDGET)[0])
        clock.record("first item", started, f"{first * 1e3:.3g} ms", optional=False)
        self.samples = [(0, first)]
        clock.budget = min(BUDGET_SHARE * self.count * first, MAX_BUDGET)
        started = time.perf_counter()
        self.item_bytes, self.result_bytes, self.pickling = _pickling(self.plan[0], result)
        clock.record("pickling", started, f"item {self.item_bytes} B, result"
                     f" {self.result_bytes} B, {self.pickling * 1e6:.3g} us a round trip",
                     optional=False)

    def sample(self, at: int) -> None:
        """Time the item at plan position ``at``; the budget follows the new estimate."""
        started = time.perf_counter()
        seconds, _ = _timed(self.job.kernel, self.plan[at],
                            max(0.0, self.clock.budget - self.clock.used()))
        self.samples.append((at, seconds))
        self.clock.record(f"item {at}", started, f"{seconds * 1e3:.3g} ms")
        self.rebudget()

    def rebudget(self) -> None:
        """The budget, from the mean item time as the samples now say."""
        self.clock.budget = min(BUDGET_SHARE * self.count * average(self.samples, self.count),
                                MAX_BUDGET)

    def threads(self) -> float:
        """The parallel fraction of two threads: measured, or assumed from the build and
        the workload's NumPy hook."""
        if not self.gil:
            self.assumed.append("thread_parallel: free-threaded build")
            return 1.0  # a free-threaded build runs Python threads in parallel
        if self.cores > 1 and self.clock.fits("threads"):
            started = time.perf_counter()
            # The sampled item nearest the mean: like the plan's bulk (a light one may be all
            # set-up, a NumPy kernel's Python between its loops; a heavy one costs the budget).
            mean = average(self.samples, self.count)
            at = min(self.samples, key=lambda sample: abs(sample[1] - mean))[0]
            found, alone = _thread_parallel(self.job.kernel, self.plan[at])
            # Run again, the item is warm: a first call may have paid lazy imports.
            self.samples = [(pos, min(seconds, alone) if pos == at else seconds)
                            for pos, seconds in self.samples]
            self.rebudget()
            self.clock.record("threads", started, f"2 threads ran {1 + found:.2g}x as fast")
            # Waiting overlaps whatever a noisy machine did to the two timings.
            return max(found, 1.0 - self.cpu_share)
        if self.job.uses_numpy():
            self.assumed.append("thread_parallel: NumPy releases the GIL in its loops")
            return 1.0
        self.assumed.append(f"thread_parallel: the item waits {1 - self.cpu_share:.0%} of its"
                            " time; Python holds the GIL the rest")
        return 1.0 - self.cpu_share

    def backends(self) -> tuple[list[str], dict[str, str], tuple[str, str]]:
        """The backends that can run the kernel, why the others cannot, and why processes
        and subinterpreters cannot ("" if they can)."""
        started = time.perf_counter()
        available, unavailable = _backends(self.job)
        self.clock.record("backends", started, f"{len(available)} can run it here",
                          optional=False)
        processes = _process_reason(self.job)
        subinterpreters = _subinterpreter_reason(self.job)
        probe = next((n for n in ("interpreter-pool", "interpreters") if n in available), None)
        if not subinterpreters and probe:
            expected = sum(DEFAULTS.startup.get(probe, NEW_BACKEND_STARTUP)) + self.samples[0][1]
            if self.clock.fits("subinterpreter probe", expected):
                started = time.perf_counter()
                subinterpreters = _probe_subinterpreter(probe, self.job, self.plan[0])
                self.clock.record("subinterpreter probe", started,
                                  subinterpreters or "the kernel loads")
            else:
                self.assumed.append("subinterpreters: assumed to load the kernel")
        for name in available:
            flags = backends.flags(name)
            if processes and flags.starts_processes:
                unavailable[name] = processes
            elif subinterpreters and flags.subinterpreters:
                unavailable[name] = subinterpreters
        return ([name for name in available if name not in unavailable], unavailable,
                (processes, subinterpreters))

    def startups(self, available: list[str]
                 ) -> tuple[dict[str, dict[int, float]], dict[str, float]]:
        """Per backend: start-up seconds by worker count (measured at one worker and at
        every core while the budget lasts), and seconds per item besides pickling."""
        counts = worker_counts(self.cores)
        ends = sorted({counts[0], counts[-1]})
        startup: dict[str, dict[int, float]] = {}
        per_item: dict[str, float] = {}
        for name in available:
            measured: dict[int, float] = {}
            base, extra = DEFAULTS.startup.get(name, NEW_BACKEND_STARTUP)
            for workers in ends if name != "serial" else ():
                if self.clock.fits(f"start {name} x{workers}", 2 * (base + extra * workers)):
                    started = time.perf_counter()
                    measured[workers] = _pool_startup(name, workers)
                    self.clock.record(f"start {name} x{workers}", started,
                                      f"{measured[workers] * 1e3:.3g} ms")
            startup[name] = _fill(name, measured, counts)
            per_item[name] = DEFAULTS.per_item.get(name, DEFAULTS.per_item_by_kind[kind(name)])
            if name != "serial" and len(measured) < len(ends):
                self.assumed.append(f"startup {name}")
        return startup, per_item

    def launch(self, ranks: int) -> float:
        seconds = _launch(ranks, self.clock)
        if "launch" in self.clock.skipped:
            self.assumed.append("launch")
        return seconds


def _pickling(item: Any, result: Any) -> tuple[int, int, float]:
    """Bytes of the pickled item and result, and seconds to pickle and unpickle both."""
    try:
        started = time.perf_counter()
        item_pickle = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        result_pickle = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(item_pickle)
        pickle.loads(result_pickle)
        seconds = time.perf_counter() - started
    except Exception:  # noqa: BLE001 - an unpicklable item or result: processes are refused
        return 0, 0, 0.0
    return len(item_pickle), len(result_pickle), seconds


def _thread_parallel(kernel: Callable[[Any], Any], item: Any) -> tuple[float, float]:
    """How far two threads running ``item`` at once beat one after the other: 0 when they
    take turns (the GIL held), 1 when they overlap fully; and the item's seconds alone (it
    runs alone just before, so that both timings see the machine alike). A short item runs
    several times in each, so that starting the threads does not count."""
    barrier = threading.Barrier(2)
    started = time.perf_counter()
    kernel(item)
    once = time.perf_counter() - started
    repeats = max(1, min(MAX_REPEATS, math.ceil(THREAD_WORK / max(once, 1e-7))))

    def work() -> None:
        barrier.wait()
        for _ in range(repeats):
            kernel(item)

    started = time.perf_counter()
    for _ in range(repeats):
        kernel(item)
    alone = time.perf_counter() - started
    threads = [threading.Thread(target=work) for _ in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    together = time.perf_counter() - started
    return max(0.0, min(1.0, 2 * alone / together - 1)), alone / repeats


def _backends(job: Job) -> tuple[list[str], dict[str, str]]:
    """The backends that can run ``job`` here, and why the others cannot."""
    available, unavailable = [], {}
    for name in backends.NAMES:
        status = backends.availability(name)
        if not status.available:
            unavailable[name] = status.reason
        elif job.uses_numpy() and not backends.flags(name).runs_numpy:
            unavailable[name] = "the kernel needs NumPy, which cannot load there"
        elif job.in_main() and not backends.flags(name).in_process:
            unavailable[name] = "the kernel is in __main__: only in-process workers reach it"
        else:
            available.append(name)
    return available, unavailable


def _process_reason(job: Job) -> str:
    """Why worker processes cannot run the kernel ("" if they can)."""
    try:
        pickle.dumps(job.kernel)
    except Exception as exc:  # noqa: BLE001 - whatever pickling raises, processes cannot
        return f"the kernel cannot be pickled ({type(exc).__name__})"
    return ""


def _subinterpreter_reason(job: Job) -> str:
    if job.uses_numpy():
        return "the kernel needs NumPy, which cannot load in a subinterpreter"
    return _process_reason(job)


def _probe_subinterpreter(name: str, job: Job, item: Any) -> str:
    """"" if one item runs in a subinterpreter of backend ``name``, else why not, in a line."""
    from mpi_lab.core.kernel_calls import Guarded, import_paths

    try:
        with backends.create(name, 1) as pool:
            pool.map(Guarded(job.kernel, import_paths(job.kernel)), [(0, item)])
    except Exception as exc:  # noqa: BLE001 - any failure there means: not in this model
        line = str(exc).strip().splitlines()
        return f"the kernel does not run in a subinterpreter ({line[0] if line else type(exc).__name__})"
    return ""


def _pool_startup(name: str, workers: int) -> float:
    """Seconds to start a pool of ``workers``, hand each a trivial item, and close it."""
    started = time.perf_counter()
    with backends.create(name, workers) as pool:
        pool.map(abs, list(range(workers)))  # a lazy pool starts its workers here
    return time.perf_counter() - started


def _fill(name: str, measured: dict[int, float], counts: list[int]) -> dict[int, float]:
    """Start-up for every worker count: measured ones, a line between them, else defaults."""
    base, extra = DEFAULTS.startup.get(name, NEW_BACKEND_STARTUP)
    if len(measured) == 2:
        (low, low_s), (high, high_s) = sorted(measured.items())
        slope = max(0.0, (high_s - low_s) / (high - low))
        return {w: low_s + slope * (w - low) for w in counts}
    if len(measured) == 1:
        (at, seconds), = measured.items()
        return {w: max(0.0, seconds + extra * (w - at)) for w in counts}
    return {w: base + extra * (w - 1) for w in counts}


def _launch(ranks: int, clock: _Clock) -> float:
    """Seconds ``mpiexec -n RANKS`` takes to start Python with MPI, beyond one plain Python
    (measured if it fits the budget, else the default)."""
    base, extra = DEFAULTS.launch
    default = base + extra * (ranks - 1)
    if not clock.fits("launch", 3 * default):
        return default
    import subprocess

    from mpi_lab.cluster import launcher

    started = time.perf_counter()
    try:
        env = {**os.environ, **launcher.launcher_env()}
        command = [launcher.mpiexec_path(), "-n", str(ranks), sys.executable, "-c",
                   "from mpi4py import MPI"]
        subprocess.run(command, env=env, capture_output=True, timeout=30, check=True)
        with_mpi = time.perf_counter() - started
        plain = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, timeout=30,
                       check=True)
        seconds = max(0.0, with_mpi - (time.perf_counter() - plain))
    except (OSError, subprocess.SubprocessError) as exc:
        clock.record("launch", started, f"not measured ({type(exc).__name__}): default")
        return default
    clock.record("launch", started, f"{ranks} ranks in {seconds:.3g} s")
    return seconds
