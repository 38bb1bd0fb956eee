"""User workloads under ``mpiexec -n N``: the same answer as the local serial run for every rank
count and schedule, one JSON object, ``mpi_lab.run`` on every rank, and a kernel's failure.

Each job is a subprocess with a timeout; ``wl_*`` modules are found from the current folder
(``tests/``), never from PYTHONPATH, so every rank must make it importable itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import wl_faulty
from wl_cases import (
    CASES,
    LAB_KEYS,
    ROOT,
    TESTS,
    clean_env,
    error_lines,
    expected_json,
    one_json,
)

from mpi_lab.cluster import launcher

try:
    MPIEXEC = launcher.mpiexec_path()
except FileNotFoundError as exc:  # pragma: no cover - the venv always has one
    pytest.skip(str(exc), allow_module_level=True)

pytestmark = pytest.mark.timeout(180)

SCHEDULES = ("block", "cyclic", "dynamic")
MPI_TIMEOUT = 120  # seconds for one mpiexec job


def mpi_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = clean_env(extra)
    env.update(launcher.launcher_env(env))
    return env


def mpirun(ranks: int, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``mpiexec -n RANKS python -m mpi_lab ARGS`` in ``cwd``."""
    return subprocess.run(launcher.command(ranks, list(args)), cwd=cwd, env=mpi_env(),
                          capture_output=True, text=True, timeout=MPI_TIMEOUT)


def run_json(key: str, ranks: int, *extra: str) -> dict:
    case = CASES[key]
    done = mpirun(ranks, "run", case.spec, *case.cli_params(), *extra, "--json", cwd=case.cwd)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return one_json(done.stdout)  # only rank 0 prints


def check(fields: dict, key: str, ranks: int, schedule: str) -> None:
    case = CASES[key]
    assert fields.keys() >= LAB_KEYS
    assert fields["answer"] == expected_json(key)
    assert (fields["workload"], fields["params"]) == (case.spec, case.full)
    assert (fields["ranks"], fields["schedule"]) == (ranks, schedule)
    assert [rank["rank"] for rank in fields["per_rank"]] == list(range(ranks))
    assert sum(rank["items"] for rank in fields["per_rank"]) == case.plan_length()


# wl_words: its answer depends on the plan's order, which each schedule scatters differently.
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
def test_words_every_rank_count_and_schedule(ranks: int, schedule: str):
    check(run_json("words", ranks, "--schedule", schedule), "words", ranks, schedule)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("key", ["primes", "random_walk"])
def test_examples_on_two_ranks(key: str, schedule: str):
    check(run_json(key, 2, "--schedule", schedule), key, 2, schedule)


def test_object_workload_uses_its_default_schedule():
    check(run_json("letters", 3), "letters", 3, "cyclic")


def test_worker_pools_on_each_rank():
    """Two ranks, each with a pool of two worker processes (spawned: they import the workload
    module afresh) or subinterpreters."""
    fields = run_json("words", 2, "--backend", "process-pool", "--workers", "2",
                      "--start-method", "spawn", "--schedule", "cyclic")
    check(fields, "words", 2, "cyclic")
    assert fields["backend"] == "process-pool"
    assert [rank["workers"] for rank in fields["per_rank"]] == [2, 2]


API_SCRIPT = '''\
import json, sys
import mpi_lab
from mpi4py import MPI

spec, params, schedule = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
report = mpi_lab.run(spec, params=params, backend="serial", workers=1, schedule=schedule)
said = None if report is None else report.to_dict()
print(json.dumps({"rank": MPI.COMM_WORLD.Get_rank(), "report": said}), flush=True)
'''


@pytest.mark.parametrize(("key", "ranks", "schedule"), [("words", 3, "cyclic"),
                                                        ("random_walk", 2, "dynamic")])
def test_api_under_mpiexec(tmp_path: Path, key: str, ranks: int, schedule: str):
    """``mpi_lab.run`` on every rank: rank 0 gets the report, the others None."""
    script = tmp_path / "api_run.py"
    script.write_text(API_SCRIPT)
    case = CASES[key]
    env = mpi_env({"PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])})
    done = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, str(script), case.spec,
                           json.dumps(case.params), schedule], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=MPI_TIMEOUT)
    assert done.returncode == 0, done.stderr
    said = sorted((json.loads(line) for line in done.stdout.splitlines()),
                  key=lambda line: line["rank"])
    assert [line["rank"] for line in said] == list(range(ranks))
    assert [line["report"] is None for line in said] == [False] + [True] * (ranks - 1)
    check(said[0]["report"], key, ranks, schedule)


def test_kernel_failure_names_rank_and_host():
    done = mpirun(2, "run", "wl_faulty", "--schedule", "block", cwd=TESTS)
    assert done.returncode == 1, done.stderr
    errors = error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    # Block: items 6..11 of 12 are rank 1's.
    assert f"rank 1 on host {os.uname().nodename}" in errors[0]
    assert "item 7 (('row', 7, 7)): ZeroDivisionError" in errors[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_kernel_failure_with_json_and_traceback():
    done = mpirun(2, "run", "wl_faulty", "--schedule", "cyclic", "--json", "--traceback",
                  cwd=TESTS)
    assert done.returncode == 1, done.stderr
    fields = one_json(done.stdout)
    assert "rank 1 on host " in fields["error"] and "item 7 " in fields["error"]
    assert fields["exit_code"] == 1
    assert wl_faulty.RAISING_LINE in fields["traceback"]
    assert wl_faulty.RAISING_LINE in done.stderr  # --traceback: rank 0 prints it
    assert len(error_lines(done.stderr)) == 1


def test_bad_spec_every_rank_exits_2_message_once():
    done = mpirun(3, "run", "wl_no_such_module", cwd=TESTS)
    assert done.returncode == 2
    assert len(error_lines(done.stderr)) == 1
    assert "no module named 'wl_no_such_module'" in done.stderr
