"""The benchmark matrix: workload x backend x workers (x MPI ranks), each point a fresh process.

Every point runs ``python -m mpi_lab WORKLOAD ... --json`` (or ``run SPEC --param ...`` for a
user's workload; under ``mpiexec -n R`` for R > 1 ranks) ``repeats`` times and keeps the
median of the reported ``seconds`` (compute time, from plan to answer). The last repeat runs
with ``--explain --timeline``: the point's breakdown of its wall time and its timeline, kept out
of the median (unless it is the only repeat). Speed-up and parallel efficiency are against the
``serial`` run of the same session, and every point's answer is checked against it. Backends
that cannot run a workload are listed as skipped, with why.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import importlib.util
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mpi_lab import backends
from mpi_lab.core import env as lab_env
from mpi_lab.local.timing import KINDS
from mpi_lab.workloads import BUILTIN
from mpi_lab.workloads.contract import load
from mpi_lab.workloads.param import defaults

WORKLOADS = tuple(BUILTIN)


def sizes(workload: str, quick: bool = False) -> dict[str, Any]:
    """The parameters bench runs ``workload`` with, as it declares them: its defaults (the
    seed's sizes, for the built-ins), and for a quick matrix its ``quick_params`` over them."""
    found = load(workload)
    return {**defaults(found.parameters), **(found.quick_params if quick else {})}


def all_sizes(quick: bool = False) -> dict[str, dict[str, Any]]:
    """``sizes`` of every built-in workload."""
    return {name: sizes(name, quick) for name in WORKLOADS}


@dataclass(frozen=True)
class Settings:
    """What a bench session measures: each workload with its plan's parameters."""

    workloads: tuple[str, ...] = WORKLOADS
    backends: tuple[str, ...] = backends.NAMES
    workers: tuple[int, ...] = (1, 2)
    ranks: tuple[int, ...] = (2, 4)
    repeats: int = 3
    plans: dict[str, dict[str, Any]] = field(default_factory=all_sizes)
    timeout: float = 600.0

    @classmethod
    def quick(cls) -> Settings:
        """A small matrix: under a minute on 2 cores."""
        return cls(ranks=(2,), repeats=2, plans=all_sizes(quick=True), timeout=120.0)

    def workload_params(self, workload: str) -> dict[str, Any]:
        """The parameters of ``workload``'s plan in this session (none: its defaults)."""
        return dict(self.plans.get(workload, {}))

    def workload_args(self, workload: str) -> list[str]:
        """The command line of one run (without backend and workers)."""
        params = [f"--param={key}={value!r}" for key, value in
                  self.workload_params(workload).items()]
        return ["run", spec_of(workload), *params]

    def with_kernels(self, kernels: Sequence[str]) -> Settings:
        """Each workload once per kernel of ``kernels`` it declares (``pi[compiled]``): the
        kernel as a dimension of the matrix, each against serial with the same kernel."""
        labels, plans = [], {}
        for workload in self.workloads:
            declared = {param.name: param for param in load(workload).parameters}
            choices = declared["kernel"].choices if "kernel" in declared else ()
            for kernel in kernels:
                if kernel in (choices or ()):
                    label = f"{workload}[{kernel}]"
                    labels.append(label)
                    plans[label] = {**self.workload_params(workload), "kernel": kernel}
        if not labels:
            raise ValueError(f"no workload here has a kernel named {', '.join(kernels)}")
        return replace(self, workloads=tuple(labels), plans=plans)


def spec_of(workload: str) -> str:
    """The workload a matrix row runs: ``pi`` for ``pi[compiled]``."""
    return workload.split("[", 1)[0]


@dataclass(frozen=True)
class Point:
    workload: str
    backend: str
    workers: int
    ranks: int = 1


@dataclass
class Measurement:
    """One point's outcome: its median time, or why it was skipped or failed."""

    workload: str
    backend: str
    workers: int
    ranks: int
    status: str  # ok | skipped | failed
    seconds: float | None = None
    samples: list[float] = field(default_factory=list)
    speedup: float | None = None
    efficiency: float | None = None
    answer: str | None = None  # the answer's JSON (a digest if long), compared with serial
    reason: str = ""
    detail: str = ""  # a failed run's stderr (its end), in the JSON only
    explain: dict[str, Any] | None = None  # where the last repeat's wall time went
    timeline: str | None = None  # its timeline: a path under the report's folder


def why_unfit(settings: Settings, workload: str) -> Callable[[str], str]:
    """Why a backend cannot run ``workload`` ("" if it can): its kernels need NumPy (which
    cannot load in a subinterpreter), or its items or kernel cannot be pickled (to reach
    other processes and interpreters)."""
    import pickle

    from mpi_lab.local.jobs import Job

    job = Job.of(spec_of(workload), settings.workload_params(workload))
    numpy = job.uses_numpy()
    plan = job.plan()
    unpicklable = ""
    try:
        pickle.dumps((job.kernel, plan[0] if len(plan) else None))
    except Exception as exc:  # noqa: BLE001 - whatever pickle raises, it is the reason
        unpicklable = f"its items or kernel cannot be pickled: {type(exc).__name__}: {exc}"

    def reason(name: str) -> str:
        status = backends.availability(name)
        if not status.available:
            return status.reason
        flags = backends.flags(name)
        if numpy and not flags.runs_numpy:
            return "its kernels import NumPy, which cannot load in a subinterpreter"
        if unpicklable and flags.needs_pickling:
            return unpicklable
        return ""

    return reason


def plan(settings: Settings) -> tuple[list[Point], list[Measurement]]:
    """The points to run, and those skipped with their reason (never dropped silently)."""
    points: list[Point] = []
    skipped: list[Measurement] = []
    for workload in settings.workloads:
        why_not = why_unfit(settings, workload)
        points.append(Point(workload, "serial", 1))
        for name in settings.backends:
            if name == "serial":
                continue
            reason = why_not(name)
            for workers in settings.workers:
                if reason:
                    skipped.append(Measurement(workload, name, workers, 1, "skipped",
                                               reason=reason))
                else:
                    points.append(Point(workload, name, workers))
        # Across ranks: the auto backend with one worker per rank, so ranks are the parallelism.
        points.extend(Point(workload, "auto", 1, ranks) for ranks in settings.ranks)
    return points, skipped


def command(settings: Settings, point: Point) -> tuple[list[str], dict[str, str]]:
    args = [*settings.workload_args(point.workload), "--backend", point.backend,
            "--workers", str(point.workers), "--json"]
    env = {**os.environ}
    env.pop(lab_env.FAULT, None)
    if point.ranks == 1:
        return [sys.executable, "-m", "mpi_lab", *args, "--no-mpi"], env
    from mpi_lab.cluster import launcher

    env.update(launcher.launcher_env())
    return launcher.command(point.ranks, args), env


def measure(settings: Settings, point: Point) -> Measurement:
    """Run ``point`` ``repeats`` times in fresh processes; keep the median seconds of the timed
    repeats, and the last repeat's breakdown (``--explain``)."""
    return measure_explained(settings, point)[0]


def measure_explained(settings: Settings, point: Point,
                      ) -> tuple[Measurement, dict[str, Any] | None]:
    """``measure``, with the last repeat's timeline as a Chrome trace (None if it failed):
    its file lives in a temporary folder only while the run writes it."""
    cmd, env = command(settings, point)
    samples, answers = [], set()
    with tempfile.TemporaryDirectory(prefix="mpi_lab-bench-") as folder:
        # A trace, not a picture: the run then needs no matplotlib (write draws it).
        drawn = Path(folder) / "timeline.json"
        for repeat in range(1, settings.repeats + 1):
            last = repeat == settings.repeats
            flags = ["--explain", "--timeline", str(drawn)] if last else []
            fields = _run_once(settings, point, [*cmd, *flags], env)
            if isinstance(fields, Measurement):
                return fields, None
            # The explained repeat is timed only when it is the one repeat there is.
            if not last or settings.repeats == 1:
                samples.append(fields["seconds"])
            answers.add(_answer(fields["answer"]))
        trace = json.loads(drawn.read_text()) if drawn.exists() else None
    backend = fields["backend"] if point.backend == "auto" else point.backend
    result = Measurement(
        point.workload, backend, point.workers, point.ranks, "ok",
        seconds=statistics.median(samples), samples=samples,
        answer=answers.pop() if len(answers) == 1 else "differs between repeats",
        explain=fields.get("explain"),
    )
    if trace is not None:
        result.timeline = timeline_name(result)
    return result, trace


def _run_once(settings: Settings, point: Point, cmd: list[str], env: dict[str, str],
              ) -> dict[str, Any] | Measurement:
    """One run of ``point``: its JSON report, or the point's failure."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=settings.timeout, check=False)
    except subprocess.TimeoutExpired:
        return Measurement(**asdict(point), status="failed",
                           reason=f"timed out after {settings.timeout:g} s")
    if done.returncode != 0:
        return Measurement(**asdict(point), status="failed",
                           reason=_failure_reason(done.stderr, done.returncode),
                           detail=done.stderr[-_DETAIL_CHARS:])
    fields: dict[str, Any] = json.loads(done.stdout)
    return fields


TIMELINES = "timelines"  # the report's folder of timelines, one per point


def timeline_name(result: Measurement) -> str:
    """``timelines/pi-threads-w2-r1-numpy.json``: where a point's trace goes in the report's
    folder (the kernel last, for ``pi[numpy]``); its picture is beside it, ``.png``."""
    kernel = result.workload[len(spec_of(result.workload)):].strip("[]")
    parts = [spec_of(result.workload), result.backend, f"w{result.workers}",
             f"r{result.ranks}", *([kernel] if kernel else [])]
    return f"{TIMELINES}/{slug('-'.join(parts))}.json"


def slug(label: str) -> str:
    """``label`` as a file name: a user's ``package.module:name`` keeps only safe characters."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "workload"


_DETAIL_CHARS = 4000
_ANSWER_CHARS = 200


def _answer(answer: Any) -> str:
    """An answer as compared between points: its JSON, shortened to a digest if long."""
    text = json.dumps(answer, sort_keys=True)
    if len(text) <= _ANSWER_CHARS:
        return text
    import hashlib

    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _failure_reason(stderr: str, code: int) -> str:
    """One line on why a point's run failed: mpi_lab's own ``Error:`` line if there is one,
    else the last line of stderr that says something (Open MPI's notices end in a rule of
    dashes), else how the process ended."""
    lines = [line.strip() for line in stderr.splitlines() if any(c.isalnum() for c in line)]
    errors = [line for line in lines if line.startswith("Error")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else _exit_status(code)


def _exit_status(code: int) -> str:
    """How a point's process ended, naming the signal when one killed it."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name} (exit {code})"
    return f"exit {code}"


def compare(results: list[Measurement]) -> None:
    """Speed-up and efficiency against serial; a point whose answer differs is a failure."""
    baseline = {
        r.workload: r for r in results
        if r.backend == "serial" and r.workers == 1 and r.ranks == 1 and r.status == "ok"
    }
    for result in results:
        base = baseline.get(result.workload)
        if result.status != "ok" or base is None or not result.seconds:
            continue
        if result.answer != base.answer:
            result.status = "failed"
            result.reason = f"answer {result.answer} differs from serial's {base.answer}"
            continue
        result.speedup = base.seconds / result.seconds
        result.efficiency = result.speedup / (result.workers * result.ranks)


def context() -> dict[str, Any]:
    from mpi_lab import info

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "gil": backends.gil_enabled(),
        "mpi": info.mpi_library_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }


def run(settings: Settings, progress: Callable[[Sequence[Point]], Any] | None = None,
        ) -> dict[str, Any]:
    """Measure the whole matrix; ``progress`` wraps the points (a progress bar)."""
    points, skipped = plan(settings)
    iterator: Iterator[Point] | Any = progress(points) if progress else iter(points)
    measured = [measure_explained(settings, point) for point in iterator]
    results = [result for result, _ in measured]
    compare(results)
    return {
        "context": context(),
        "settings": asdict(settings),
        "results": [asdict(r) for r in results + skipped],
        # Each point's Chrome trace: ``write`` saves them as files, not in results.json.
        "timelines": {r.timeline: trace for r, trace in measured if r.timeline and trace},
    }


CSV_FIELDS = ("workload", "backend", "workers", "ranks", "status", "seconds", "speedup",
              "efficiency", "answer", "reason", "timeline")
PART_FIELDS = tuple(f"{kind}_seconds" for kind in KINDS)  # the CSV's breakdown columns


# The parts of a run that are the work's cost in moving and idling, not the work itself.
OVERHEAD = ("sending", "waiting", "receiving")
UNKNOWN = "\N{EN DASH}"  # a table's cell without a ratio
TIMES = "\N{MULTIPLICATION SIGN}"


def table(report: dict[str, Any]) -> list[str]:
    """The results as a Markdown table (also readable as plain text); an explained point's
    note gives its last repeat's shares of the wall time (``breakdown_note``)."""
    lines = ["| workload | backend | workers | ranks | seconds | speed-up | efficiency | note |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        if r["status"] == "ok":
            # Without a baseline (serial failed or timed out) a point has a time, no ratio.
            speedup = UNKNOWN if r["speedup"] is None else f"{r['speedup']:.2f}{TIMES}"
            efficiency = UNKNOWN if r["efficiency"] is None else f"{r['efficiency']:.0%}"
            baseline = "" if r["speedup"] is not None else "no serial baseline"
            note = "; ".join(filter(None, [baseline, breakdown_note(r.get("explain"))]))
            lines.append(
                f"| {r['workload']} | {r['backend']} | {r['workers']} | {r['ranks']} "
                f"| {r['seconds']:.3f} | {speedup} | {efficiency} | {note} |"
            )
        else:
            lines.append(f"| {r['workload']} | {r['backend']} | {r['workers']} | {r['ranks']} "
                         f"| | | | {r['status']}: {r['reason']} |")
    return lines


def breakdown_note(explain: dict[str, Any] | None) -> str:
    """``compute 94%, start-up 2%, wait+send+recv 3%``: shares of the wall time, the work's,
    the workers' start and what it cost to move and wait ("" without a breakdown). A note, not
    columns: scripts read the table's eight columns."""
    if not explain or not explain.get("seconds"):
        return ""
    wall, parts = float(explain["seconds"]), explain["parts"]
    overhead = sum(float(parts.get(kind, 0.0)) for kind in OVERHEAD)
    compute = float(parts.get("compute", 0.0))
    startup = float(parts.get("start-up", 0.0))
    return (f"compute {compute / wall:.0%}, start-up {startup / wall:.0%},"
            f" wait+send+recv {overhead / wall:.0%}")


def csv_row(result: dict[str, Any]) -> dict[str, Any]:
    """A result as a CSV row: its fields, and one column of seconds per part of its breakdown."""
    parts = (result.get("explain") or {}).get("parts", {})
    return {**result, **{f"{kind}_seconds": parts.get(kind) for kind in KINDS}}


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """results.json, results.csv, results.md, speedup.png, the breakdown pictures and the
    timelines folder in ``out``, each file atomically."""
    from mpi_lab.present.files import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with atomic_path(out / "results.json") as temp:
        fields = {key: value for key, value in report.items() if key != "timelines"}
        temp.write_text(json.dumps(fields, indent=2) + "\n")
    written.append(out / "results.json")
    with atomic_path(out / "results.csv") as temp, temp.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS + PART_FIELDS,
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(csv_row(result) for result in report["results"])
    written.append(out / "results.csv")
    with atomic_path(out / "results.md") as temp:
        temp.write_text("\n".join(table(report)) + "\n")
    written.append(out / "results.md")
    from mpi_lab.present import images

    with atomic_path(out / "speedup.png") as temp:
        images.save_speedup(report, temp)
    written.append(out / "speedup.png")
    written.extend(write_breakdowns(report, out))
    written.extend(write_timelines(report.get("timelines", {}), out))
    return written


def write_breakdowns(report: dict[str, Any], out: Path) -> list[Path]:
    """``breakdown.png``, or ``breakdown-<workload>.png`` for each of several workloads: the
    explained points' parts as stacked bars (none without explained points)."""
    from mpi_lab.present import images

    workloads = images.explained_workloads(report)
    written = []
    for workload in workloads:
        name = "breakdown.png" if len(workloads) == 1 else f"breakdown-{slug(workload)}.png"
        images.save_breakdown(report, workload, out / name)
        written.append(out / name)
    return written


def write_timelines(timelines: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """Each point's Chrome trace under ``out``, and its picture beside it when matplotlib is
    here; the folder is what is written (one line, not one per point)."""
    from mpi_lab.present import files, images

    drawing = importlib.util.find_spec("matplotlib") is not None
    for name, trace in timelines.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(trace, separators=(",", ":"))  # compact: a trace runs to many MB
        files.save(lambda temp, text=text: temp.write_text(text), path)
        if drawing:
            images.save_trace_picture(trace, path.with_suffix(".png"))
    return [out / TIMELINES] if timelines else []
