"""``mpiexec -n N python -m mpi_lab``: invariance across rank counts and the failure rules.

Each job runs in a subprocess with a deadline; the tests assert exit code, message, and time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import alive, descendants, is_rank, wait_session_empty

from mpi_lab.cluster import launcher

try:
    MPIEXEC = launcher.mpiexec_path()
except FileNotFoundError as exc:  # pragma: no cover - the venv always has one
    pytest.skip(str(exc), allow_module_level=True)

FAILURE_BOUND = 10.0  # seconds: every rank must be gone by then


def mpirun(ranks: int, *args: str, fault: str | None = None, deadline: float = 120,
           ) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, **launcher.launcher_env()}
    env.pop("MPI_LAB_FAULT", None)
    if fault:
        env["MPI_LAB_FAULT"] = fault
    started = time.monotonic()
    done = subprocess.run(launcher.command(ranks, list(args)), capture_output=True, text=True,
                          env=env, timeout=deadline)
    return done, time.monotonic() - started


def local_json(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "mpi_lab", *args, "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def _compiled() -> list:
    from mpi_lab.workloads import compiled

    why = compiled.unavailable()
    return [pytest.param("compiled", marks=pytest.mark.skipif(bool(why), reason=why))]


@pytest.mark.parametrize("kernel", ["default", *_compiled()])
@pytest.mark.parametrize("ranks", [1, 3])
def test_pi_and_fractal_match_no_mpi(ranks: int, kernel: str):
    """Hits and pixels whatever the ranks and schedule; the compiled kernels' too (the
    fractal's against the NumPy kernel run locally)."""
    chosen = [] if kernel == "default" else ["--kernel", kernel]
    pi_args = ["pi", "--trials", "54321", "--block-size", "4000", "--seed", "9", *chosen]
    expected = local_json(*pi_args)["hits"]
    for schedule in ("block", "cyclic", "dynamic"):
        done, _ = mpirun(ranks, *pi_args, "--schedule", schedule, "--json")
        assert done.returncode == 0, done.stderr
        fields = json.loads(done.stdout)  # exactly one object: only rank 0 prints
        assert fields["hits"] == expected
        assert fields["ranks"] == ranks and len(fields["per_rank"]) == ranks
    frac_args = ["fractal", "--height", "123", "--width", "77", "--maxiter", "30"]
    expected_sha = local_json(*frac_args)["sha256"]
    done, _ = mpirun(ranks, *frac_args, *chosen, "--schedule", "cyclic", "--json")
    assert json.loads(done.stdout)["sha256"] == expected_sha


def test_text_report_shows_each_rank_and_imbalance():
    done, _ = mpirun(2, "pi", "--trials", "200000")
    assert done.returncode == 0, done.stderr
    assert "rank  host" in done.stdout
    assert "imbalance (max/mean seconds):" in done.stdout
    assert done.stdout.count("Took ") == 1


def test_bad_input_every_rank_exits_2_message_once():
    done, seconds = mpirun(3, "pi", "--trials", "0")
    assert done.returncode == 2
    assert done.stderr.count("Error: pi: trials must be greater than 0") == 1
    assert seconds < FAILURE_BOUND


def test_fork_under_mpi_is_refused():
    done, _ = mpirun(2, "pi", "--backend", "process-pool", "--start-method", "fork")
    assert done.returncode == 2
    assert done.stderr.count("'fork' is unsafe") == 1


@pytest.mark.parametrize(("fault_rank", "schedule"), [(0, "block"), (2, "block"), (1, "dynamic")])
def test_worker_exception_on_one_rank_ends_all_with_1(fault_rank: int, schedule: str):
    done, seconds = mpirun(3, "pi", "--trials", "600000", "--schedule", schedule,
                           fault=f"raise@{fault_rank}")
    assert done.returncode == 1
    assert seconds < FAILURE_BOUND
    assert f"rank {fault_rank} on host " in done.stderr
    assert "InjectedFault: injected fault in block" in done.stderr
    assert done.stderr.count("Error: ") == 1


def test_unhandled_error_on_one_rank_aborts_the_job(tmp_path: Path):
    script = tmp_path / "unhandled.py"
    script.write_text(
        "import sys\n"
        "from mpi_lab.mpi import comm\n"
        "from mpi_lab.mpi.abort_rule import guarded\n"
        "world = comm.world()\n"
        "def main():\n"
        "    if world.Get_rank() == 1:\n"
        "        raise RuntimeError('unexpected on rank 1')\n"
        "    world.Barrier()  # without the guard, rank 0 would wait here forever\n"
        "    return 0\n"
        "sys.exit(guarded(main))\n"
    )
    env = {**os.environ, **launcher.launcher_env()}
    started = time.monotonic()
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert "RuntimeError: unexpected on rank 1" in done.stderr
    assert time.monotonic() - started < FAILURE_BOUND


def _rank_pid(launcher_pid: int, rank: int) -> int | None:
    return next((pid for pid in descendants(launcher_pid) if is_rank(pid, rank)), None)


@pytest.mark.parametrize("backend", ["thread-pool", "process-pool"])
def test_sigkill_of_one_rank_ends_the_job(backend: str):
    env = {**os.environ, **launcher.launcher_env(), "MPI_LAB_FAULT": "hang@1"}
    args = ["pi", "--trials", "600000", "--backend", backend, "--workers", "1"]
    with subprocess.Popen(launcher.command(3, args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env,
                          start_new_session=True) as proc:
        try:
            deadline = time.monotonic() + 30
            while (victim := _rank_pid(proc.pid, 1)) is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert victim is not None, "rank 1 not found"
            time.sleep(1.5)  # let it reach the hanging kernel while the others wait
            job = descendants(proc.pid)
            assert proc.poll() is None, "the job should hang without the kill"
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            out, err = proc.communicate(timeout=30)
            assert time.monotonic() - killed < FAILURE_BOUND
            assert proc.returncode != 0
            # The launcher says so (Open MPI on stderr, MPICH's Hydra on stdout).
            said = (out + err).lower()
            assert "signal 9" in said or "killed" in said
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        # Every process of the job goes, the killed rank's pool workers included.
        end = time.monotonic() + 10
        while alive(job) and time.monotonic() < end:
            time.sleep(0.1)
        assert alive(job) == []
        assert wait_session_empty(proc.pid) == []
