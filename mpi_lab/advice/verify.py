"""Runs the recommendation and the next best predictions, and sets measured beside predicted.

Measured is the wall time of the run as a user waits for it, past the interpreter's start: of
``mpi_lab.run`` in this process for one rank (handed in: this room is below the API), of
``mpiexec -n R python -m mpi_lab run SPEC ... --json`` for several (its launch included, as the
prediction's ``launch`` term is).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

from mpi_lab.advice.model import Prediction
from mpi_lab.advice.recommend import Advice
from mpi_lab.local.jobs import Job

CHECKED = 3  # the recommendation and the next two best
MIN_TIMEOUT = 60.0  # seconds a run under mpiexec may take, at least


def candidates(advice: Advice) -> list[Prediction]:
    """The recommendation, then the next best distinct points."""
    return advice.predictions[:CHECKED]


def check(workload: Any, job: Job, advice: Advice, run: Callable[..., Any],
          show: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run each candidate once; a row per candidate with predicted and measured seconds (or
    why it could not run)."""
    rows = []
    for point in candidates(advice):
        row: dict[str, Any] = {"backend": point.backend, "workers": point.workers,
                               "ranks": point.ranks, "schedule": point.schedule,
                               "predicted_seconds": point.seconds}
        try:
            row["measured_seconds"] = (_local(job, point, run) if point.ranks == 1
                                       else _ranks(workload, job, point))
            row["ratio"] = point.seconds / row["measured_seconds"]
        except Exception as exc:  # noqa: BLE001 - a failing point is reported; others run
            lines = str(exc).strip().splitlines() or [""]
            row["error"] = f"{type(exc).__name__}: {lines[0]}"
        if show:
            show(f"advise: verified {point.backend} x{point.workers} on {point.ranks} rank(s):"
                 f" {row.get('measured_seconds', row.get('error'))}")
        rows.append(row)
    return rows


def _local(job: Job, point: Prediction, run: Callable[..., Any]) -> float:
    started = time.perf_counter()
    run(job, backend=point.backend, workers=point.workers, progress=False, mpi=False)
    return time.perf_counter() - started


def _ranks(workload: Any, job: Job, point: Prediction) -> float:
    if not isinstance(workload, str):
        raise TypeError("runs under mpiexec need the workload as a SPEC string")
    from mpi_lab.cluster import launcher
    from mpi_lab.core.kernel_calls import import_paths

    params = [f"--param={key}={value!r}" for key, value in job.params.items()]
    command = launcher.command(point.ranks, [
        "run", workload, *params, "--backend", point.backend, "--workers", str(point.workers),
        "--schedule", point.schedule, "--json"])
    env = {**os.environ, **launcher.launcher_env()}
    paths = [*import_paths(job.kernel), os.environ.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                          timeout=max(MIN_TIMEOUT, 10 * point.seconds))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.startswith("Error")]
        raise RuntimeError(lines[-1] if lines else f"mpiexec exited {done.returncode}")
    json.loads(done.stdout)  # one object: the run finished and reported
    return seconds
