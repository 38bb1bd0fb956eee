"""The workloads the workload tests run (small sizes), their serial answers, and helpers to run
``python -m mpi_lab`` on them in a subprocess (locally or under ``mpiexec``).

Shared by ``test_workloads.py`` and ``test_workloads_mpi.py``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wl_words

import mpi_lab

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SUBPROCESS_TIMEOUT = 120  # seconds for any one run in a subprocess

# The lab's keys in ``run --json`` (README's contract); the answer's fields sit beside them.
LAB_KEYS = {"workload", "params", "answer", "backend", "workers", "ranks", "schedule",
            "seconds", "per_rank"}
RANK_KEYS = {"rank", "host", "workers", "items", "seconds", "backend"}


@dataclass(frozen=True)
class Case:
    spec: str  # as given to run / mpi_lab.run
    params: dict[str, Any]  # as given
    full: dict[str, Any]  # what the report must say: plan's defaults filled in
    numpy: bool  # the kernels import NumPy
    cwd: Path  # where ``python -m mpi_lab run SPEC`` finds the module without PYTHONPATH

    def cli_params(self) -> list[str]:
        return [arg for key, value in self.params.items()
                for arg in ("--param", f"{key}={value!r}")]

    def plan_length(self) -> int:
        from mpi_lab.workloads.contract import load

        return len(load(self.spec).plan(**self.params))


CASES = {
    "primes": Case("examples.primes", {"limit": 20_000, "block": 2_000},
                   {"limit": 20_000, "block": 2_000}, False, ROOT),
    "random_walk": Case("examples.random_walk", {"walkers": 4_000, "batch": 500, "steps": 200},
                        {"walkers": 4_000, "steps": 200, "batch": 500, "bins": 41, "seed": 0},
                        True, ROOT),
    "words": Case("wl_words", {"per_item": 4, "repeat": 3},
                  {"text": wl_words.TEXT, "per_item": 4, "repeat": 3}, False, TESTS),
    "letters": Case("wl_words:LETTERS", {"repeat": 2}, {"text": wl_words.TEXT, "repeat": 2},
                    False, TESTS),
}


@functools.cache
def serial_answer(key: str) -> Any:
    """The answer of the local serial run: what every other backend and rank count must give."""
    case = CASES[key]
    report = mpi_lab.run(case.spec, params=case.params, backend="serial", mpi=False)
    assert report is not None
    return report.answer


def same(answer: Any, expected: Any) -> bool:
    """Equal answers (NumPy arrays element by element, with the same dtype and shape)."""
    if type(expected).__module__ == "numpy":
        import numpy as np

        return (type(answer) is type(expected) and answer.dtype == expected.dtype
                and np.array_equal(answer, expected))
    return type(answer) is type(expected) and answer == expected


def expected_json(key: str) -> Any:
    """The serial answer as ``--json`` must print it: the workload's ``describe`` where it has
    one, the answer where JSON holds it, else its repr."""
    answer = serial_answer(key)
    if key == "random_walk":
        import examples.random_walk

        return examples.random_walk.describe(answer)
    if key == "words":
        return repr(answer)  # a Tally: JSON cannot hold it
    return answer


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without what would change a run: no PYTHONPATH (the module must be
    found from the current folder), no injected fault, no forced MPI."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "MPI_LAB_FAULT", "MPI_LAB_MPI")}
    env.update(extra or {})
    return env


def lab_run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
            timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
    """``python -m mpi_lab ARGS`` in ``cwd``, to its end."""
    return subprocess.run([sys.executable, "-m", "mpi_lab", *args], cwd=cwd,
                          env=env if env is not None else clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def one_json(stdout: str) -> dict[str, Any]:
    """The one JSON object that is the whole of ``stdout``."""
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line, got {len(lines)}:\n{stdout}"
    fields = json.loads(lines[0])
    assert isinstance(fields, dict)
    return fields


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]
