"""Ranks per node against workers per rank, through the project's batch script on the Slurm
test cluster (``scripts/cluster``; root needed).

    .venv/bin/python benchmarks/slurm_hybrid.py [--repeats 5] [--hosts 0|2]

Each shape is one ``sbatch`` of ``scripts/slurm.sbatch`` (π 10M trials, python kernel; the
4000x3000 fractal), shapes alternating, ``repeats`` times; the table gives the median
``seconds`` (compute on rank 0) and speed-up against 1 rank x 1 worker of the same run.
``--hosts 2`` runs on two simulated hosts, which share this machine's cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from slurmjobs import json_lines, running_cluster, submit, wait_job

SHAPES = {  # name: (nodes, tasks, cpus per task)
    "1 rank x 1 worker": (1, 1, 1),
    "2 ranks x 1 worker": (1, 2, 1),
    "1 rank x 2 workers": (1, 1, 2),
}
TWO_HOSTS = {
    "1 rank x 1 worker": (1, 1, 1),
    "2 ranks (1 per node) x 2 workers": (2, 2, 2),
    "4 ranks (2 per node) x 1 worker": (2, 4, 1),
}


def run_shape(env: dict[str, str], folder: Path, shape: tuple[int, int, int]) -> list[dict]:
    nodes, tasks, cpus = shape
    job = submit(env, folder, f"--nodes={nodes}", f"--ntasks={tasks}", f"--cpus-per-task={cpus}",
                 args=("--json",),
                 extra_env={"MPI_LAB_PI_ARGS": "--trials 10000000",
                            "MPI_LAB_FRACTAL_ARGS": "--schedule cyclic"})
    fields = wait_job(env, job, timeout=600)
    if fields["JobState"] != "COMPLETED":
        raise RuntimeError(f"job {job}: {fields['JobState']}: {(folder / f'{job}.err').read_text()}")
    return json_lines(folder / f"{job}.out")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hosts", type=int, choices=(0, 2), default=0)
    options = parser.parse_args()
    shapes = TWO_HOSTS if options.hosts else SHAPES
    seconds: dict[str, dict[str, list[float]]] = {name: {"pi": [], "fractal": []}
                                                  for name in shapes}
    reports: dict[str, list[dict]] = {}
    up_args = (str(options.hosts),) if options.hosts else ()
    with running_cluster(*up_args) as env, tempfile.TemporaryDirectory() as folder:
        for _ in range(options.repeats):
            for name, shape in shapes.items():
                pi, fractal = reports[name] = run_shape(env, Path(folder), shape)
                seconds[name]["pi"].append(pi["seconds"])
                seconds[name]["fractal"].append(fractal["seconds"])
    base = {workload: statistics.median(seconds[next(iter(shapes))][workload])
            for workload in ("pi", "fractal")}
    print("| shape | pi backend | pi s | pi speed-up | fractal backend | fractal s "
          "| fractal speed-up |")
    print("|---|---|---:|---:|---|---:|---:|")
    for name in shapes:
        pi, fractal = reports[name]
        cells = []
        for workload, report in (("pi", pi), ("fractal", fractal)):
            median = statistics.median(seconds[name][workload])
            cells += [report["backend"], f"{median:.3f}", f"{base[workload] / median:.2f}x"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nmedians of {options.repeats} jobs per shape, shapes alternating")
    return 0


if __name__ == "__main__":
    sys.exit(main())
