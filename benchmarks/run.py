"""The speed targets, each a ratio against a baseline measured in the same run.

    .venv/bin/python benchmarks/run.py [--repeats 5] [--out benchmarks/RESULTS.md]

Every measure runs the subject and its baseline alternately (each first in turn), ``repeats``
times each, in fresh processes, and takes the median of each; the ratio is of the medians. Compute times are the
``seconds`` the programs report (timed inside them); "wall" measures time whole commands.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mpi_lab.cluster import launcher

PY = sys.executable
REFS = str(ROOT / "benchmarks" / "references.py")


def lab(*args: str) -> list[str]:
    return [PY, "-m", "mpi_lab", *args, "--json"]


def mpi(ranks: int, cmd: list[str]) -> list[str]:
    return [launcher.mpiexec_path(), "-n", str(ranks), *cmd]


# Every command runs as a user would type it in the activated environment: the parameter
# files that setup wrote, no tuning variable (a test asks for plain start-up).
ENV = launcher.plain_env()


@dataclass
class Sample:
    seconds: float  # compute seconds reported, or wall seconds
    fields: dict


def run(cmd: list[str], wall: bool = False) -> Sample:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600,
                          cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    try:
        fields = json.loads(last)
    except json.JSONDecodeError:
        fields = {}
    return Sample(elapsed if wall else fields["seconds"], fields)


@dataclass
class Measure:
    name: str
    subject: Callable[[], Sample]
    baseline: Callable[[], Sample]
    target: str | None  # ">= 2.5" on baseline/subject, "<= 0.55" on subject/baseline; None: shown only
    speedup: bool  # True: ratio = baseline / subject; False: ratio = subject / baseline
    check: Callable[[dict, dict], str] | None = None  # '' if answers agree, else why not


def same(key: str) -> Callable[[dict, dict], str]:
    def check(a: dict, b: dict) -> str:
        return "" if a.get(key) == b.get(key) else f"{key} differs: {a.get(key)} vs {b.get(key)}"

    return check


def warm_up(cached: bool) -> Sample:
    """A compiled fractal run's warm-up seconds, with numba's cache filled by a run before, or
    in a new, empty cache folder."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = {**ENV, "NUMBA_CACHE_DIR": cache}
        command = lab("fractal", "--kernel", "compiled", "--height", "400", "--width", "300",
                      "--backend", "serial", "--no-mpi")
        if cached:
            subprocess.run(command, capture_output=True, env=env, timeout=600, check=True)
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600,
                              check=True, cwd=ROOT)
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(fields["warm_up_seconds"], fields)


def measures() -> list[Measure]:
    one_worker = lab("fractal", "--backend", "serial", "--workers", "1", "--no-mpi")
    pi_args = ["pi", "--trials", "10000000", "--kernel", "python"]
    compiled_fractal = ["fractal", "--kernel", "compiled", "--backend", "thread-pool", "--no-mpi"]
    compiled_pi = ["pi", "--kernel", "compiled", "--backend", "thread-pool", "--no-mpi"]

    # The π wall-time comparisons share their subjects and baselines.
    def lab_two_ranks() -> Sample:
        return run(mpi(2, lab(*pi_args)), wall=True)

    def bare_two_ranks() -> Sample:
        return run(mpi(2, [PY, REFS, "mpi-pi"]), wall=True)

    def fork_pool() -> Sample:
        return run([PY, REFS, "pool-pi-fork"], wall=True)

    return [
        Measure("fractal 4000x3000x20, numpy kernel, 1 worker vs the seed's run()",
                lambda: run(one_worker), lambda: run([PY, REFS, "seed-fractal"]),
                ">= 2.5", True, same("sha256")),
        # "2 workers (best backend) or 2 ranks": each candidate has its own row.
        *(
            Measure(f"fractal, 2 workers ({backend}) vs own 1 worker",
                    lambda backend=backend: run(lab("fractal", "--backend", backend,
                                                    "--workers", "2", "--no-mpi")),
                    lambda: run(one_worker), "<= 0.55", False, same("sha256"))
            for backend in ("threads", "thread-pool")
        ),
        Measure("fractal, 2 ranks (mpiexec -n 2, 1 worker each) vs own 1 worker",
                lambda: run(mpi(2, lab("fractal", "--workers", "1"))),
                lambda: run(one_worker), "<= 0.55", False, same("sha256")),
        # One worker per rank, whatever "auto" would choose: this measures ranks alone.
        Measure("pi 10M python kernel: mpiexec -n 2 vs -n 1, 1 worker per rank (seconds)",
                lambda: run(mpi(2, lab(*pi_args, "--workers", "1"))),
                lambda: run(mpi(1, lab(*pi_args, "--workers", "1"))),
                ">= 1.9", True, same("hits")),
        Measure("pi 10M python kernel, wall: mpiexec -n 2 mpi_lab vs multiprocessing.Pool(2)",
                lab_two_ranks, lambda: run([PY, REFS, "pool-pi"], wall=True), "> 1.0", True,
                same("hits")),
        # Not issue targets (no verdict): the same Pool started with fork (Python 3.13's
        # default on Linux, no forkserver interpreter to start), and the floor: the least a
        # 2-rank mpi4py program can do, against that Pool and against mpi_lab.
        Measure("pi 10M python kernel, wall: mpiexec -n 2 mpi_lab vs Pool(2) started with fork",
                lab_two_ranks, fork_pool, None, True, same("hits")),
        Measure("pi 10M python kernel, wall: bare mpi4py program, 2 ranks vs Pool(2) with fork",
                bare_two_ranks, fork_pool, None, True, same("hits")),
        Measure("pi 10M python kernel, wall: mpiexec -n 2 mpi_lab vs bare mpi4py program",
                lab_two_ranks, bare_two_ranks, None, True, same("hits")),
        Measure("pi 10M python kernel, wall: mpiexec -n 2 mpi_lab vs mpi4py.futures (2 workers)",
                lab_two_ranks,
                lambda: run(mpi(3, [PY, "-m", "mpi4py.futures", REFS, "futures-pi"]), wall=True),
                "> 1.0", True, same("hits")),
        # Live progress: the reporter threads, rank 0's line, and MPI_THREAD_MULTIPLE, which
        # they need (without progress a static run asks only for FUNNELED).
        *(
            Measure(f"{what}, mpiexec -n 2: --progress vs --no-progress (seconds)",
                    lambda args=args: run(mpi(2, lab(*args, "--progress"))),
                    lambda args=args: run(mpi(2, lab(*args, "--no-progress"))),
                    "<= 1.01", False, same(key))
            for what, args, key in (
                ("pi 10M python kernel", [*pi_args, "--workers", "1"], "hits"),
                ("fractal", ["fractal", "--workers", "1"], "sha256"),
                ("pi 10M python kernel, dynamic", [*pi_args, "--workers", "1", "--schedule",
                                                   "dynamic"], "hits"),
            )
        ),
        # The whole command: MPI's start and end at the thread level progress asks for too.
        Measure("pi 10M python kernel, wall, mpiexec -n 2: --progress vs --no-progress",
                lambda: run(mpi(2, lab(*pi_args, "--workers", "1", "--progress")), wall=True),
                lambda: run(mpi(2, lab(*pi_args, "--workers", "1", "--no-progress")),
                            wall=True),
                None, False, same("hits")),
        Measure("pi 10M, interpreter-pool 2 workers vs own serial",
                lambda: run(lab(*pi_args, "--backend", "interpreter-pool", "--workers", "2",
                                "--no-mpi")),
                lambda: run(lab(*pi_args, "--backend", "serial", "--workers", "1", "--no-mpi")),
                ">= 1.85", True, same("hits")),
        Measure("pi 10M numpy kernel, 1 worker vs a plain NumPy loop (1M chunks)",
                lambda: run(lab("pi", "--kernel", "numpy", "--backend", "serial", "--workers",
                                "1", "--no-mpi")),
                lambda: run([PY, REFS, "numpy-pi"]), "<= 1.2", False),
        # The compiled kernels (numba, the GIL released): threads scale; one thread is as fast
        # as a plain numba loop; a second run loads them from the cache.
        Measure("fractal, compiled kernel: 2 threads (thread-pool) vs own 1 thread",
                lambda: run(lab(*compiled_fractal, "--workers", "2")),
                lambda: run(lab(*compiled_fractal, "--workers", "1")), "<= 0.55", False,
                same("sha256")),
        Measure("fractal, compiled kernel, 1 worker vs a plain numba loop of the seed's",
                lambda: run(lab(*compiled_fractal, "--workers", "1")),
                lambda: run([PY, REFS, "compiled-fractal"]), "<= 1.2", False),
        Measure("pi 10M compiled kernel: 2 threads (thread-pool) vs own 1 thread",
                lambda: run(lab(*compiled_pi, "--workers", "2")),
                lambda: run(lab(*compiled_pi, "--workers", "1")), "<= 0.55", False,
                same("hits")),
        Measure("fractal, compiled kernel: warm-up seconds, a run with numba's cache vs the"
                " first (an empty cache)",
                lambda: warm_up(cached=True), lambda: warm_up(cached=False), "<= 0.5", False,
                same("sha256")),
        Measure("wall, plain mpiexec: -n 2 mpi_lab pi --trials 1000 vs -n 2 python -c 'import numpy'",
                lambda: run(mpi(2, lab("pi", "--trials", "1000")), wall=True),
                lambda: run(mpi(2, [PY, "-c", "import numpy"]), wall=True),
                "<= 2.0", False),
        Measure("wall: python -m mpi_lab --help vs python -c 'import click'",
                lambda: run([PY, "-m", "mpi_lab", "--help"], wall=True),
                lambda: run([PY, "-c", "import click"], wall=True), "<= 1.5", False),
    ]


def meets(ratio: float, target: str) -> bool:
    op, value = target.split()
    return {">=": ratio >= float(value), "<=": ratio <= float(value),
            ">": ratio > float(value)}[op]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", help="run only measures whose name contains this text")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    options = parser.parse_args()
    # Measure the package as installed packages are: byte-compiled (scripts/setup does this
    # too; with PYTHONDONTWRITEBYTECODE set, nothing else would).
    compileall.compile_dir(ROOT / "mpi_lab", quiet=1)
    rows = []
    for measure in measures():
        if options.only and options.only not in measure.name:
            continue
        subject, baseline, problems = [], [], set()
        for repeat in range(options.repeats):
            # Each goes first in turn: neither gains from what the other left behind.
            if repeat % 2:
                b, a = measure.baseline(), measure.subject()
            else:
                a, b = measure.subject(), measure.baseline()
            subject.append(a.seconds)
            baseline.append(b.seconds)
            if measure.check and (why := measure.check(a.fields, b.fields)):
                problems.add(why)
        s, b = statistics.median(subject), statistics.median(baseline)
        ratio = b / s if measure.speedup else s / b
        if measure.target is None:
            verdict = "(no target)" if not problems else "answers differ"
        else:
            verdict = "met" if meets(ratio, measure.target) and not problems else "NOT met"
        kind = "speed-up (baseline/subject)" if measure.speedup else "time ratio (subject/baseline)"
        spread = f"{min(subject):.3f}-{max(subject):.3f} / {min(baseline):.3f}-{max(baseline):.3f}"
        row = (f"| {measure.name} | {s:.3f} s | {b:.3f} s | {spread} | {ratio:.2f} ({kind}) "
               f"| {measure.target or '-'} | {verdict}{'; ' + '; '.join(sorted(problems)) if problems else ''} |")
        print(row, flush=True)
        rows.append(row)
    header = [
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"medians of {options.repeats} alternating runs (`{' '.join(sys.argv)}`).",
        "",
        "| measure | subject | baseline | range (subject / baseline) | ratio | target | verdict |",
        "|---|---:|---:|---|---|---|---|",
    ]
    if options.out:
        options.out.write_text("\n".join(header + rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
