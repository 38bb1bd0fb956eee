"""Two checkouts of mpi_lab side by side: the same commands, alternating, in one session.

    .venv/bin/python benchmarks/ab_trees.py OLD_CHECKOUT [--repeats 9]

Runs each command in this checkout and in OLD_CHECKOUT (with this environment's Python and
mpiexec; each checkout's own ``mpi_lab`` is imported, from its folder), old and new in turn
(each first in turn), and prints the median of each and new/old: wall time for start-up
commands, the ``seconds`` a run reports for compute. For refactors that must not slow anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

NEW = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(NEW))

from mpi_lab.cluster import launcher

MPIEXEC = [launcher.mpiexec_path(), "-n", "2"]
LAB = [PY, "-m", "mpi_lab"]
CASES = [  # name, command, what to take ("wall" or "seconds" from --json)
    ("--help", [*LAB, "--help"], "wall"),
    ("pi --trials 1000, serial", [*LAB, "pi", "--trials", "1000", "--backend", "serial"], "wall"),
    ("mpiexec -n 2 pi --trials 1000", [*MPIEXEC, *LAB, "pi", "--trials", "1000"], "wall"),
    ("fractal, 1 worker", [*LAB, "fractal", "--workers", "1", "--json"], "seconds"),
    ("fractal, thread-pool x2", [*LAB, "fractal", "--backend", "thread-pool", "--workers", "2",
                                 "--json"], "seconds"),
    ("fractal, shared-memory x2", [*LAB, "fractal", "--backend", "shared-memory", "--workers",
                                   "2", "--json"], "seconds"),
    ("pi 10M, process-pool x2", [*LAB, "pi", "--backend", "process-pool", "--workers", "2",
                                 "--json"], "seconds"),
    ("mpiexec -n 2 pi 10M, serial", [*MPIEXEC, *LAB, "pi", "--backend", "serial", "--json"],
     "seconds"),
    ("mpiexec -n 2 fractal, serial", [*MPIEXEC, *LAB, "fractal", "--backend", "serial",
                                      "--json"], "seconds"),
]


def once(command: list[str], take: str, where: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=where, capture_output=True, text=True, check=True,
                          env={**os.environ, **launcher.launcher_env()}, timeout=600)
    wall = time.perf_counter() - started
    return wall if take == "wall" else float(json.loads(done.stdout)["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--only", default="", help="cases whose name contains this text")
    options = parser.parse_args()
    print(f"| case | old (s) | new (s) | new/old |\n|---|---:|---:|---:|")
    for name, command, take in CASES:
        if options.only not in name:
            continue
        old, new = [], []
        for repeat in range(options.repeats):
            order = [(options.old, old), (NEW, new)]
            for where, times in order[:: 1 if repeat % 2 else -1]:
                times.append(once(command, take, where))
        o, n = statistics.median(old), statistics.median(new)
        print(f"| {name} ({take}) | {o:.4f} | {n:.4f} | {n / o:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
