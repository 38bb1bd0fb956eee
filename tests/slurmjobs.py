"""Helpers for the Slurm tests: the test cluster (``scripts/cluster``), jobs of the project's
batch script, and what they leave behind."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from procs import is_rank, named, new_shm, scope_env, shm_names, wait_empty, with_environment

from mpi_lab.cluster import launcher

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = str(ROOT / "scripts" / "cluster")
SBATCH_SCRIPT = str(ROOT / "scripts" / "slurm.sbatch")


def cluster(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([CLUSTER, *args], capture_output=True, text=True, timeout=timeout)


def submit(env: dict[str, str], tmp_path: Path, *options: str, args: tuple[str, ...] = (),
           extra_env: dict[str, str] | None = None) -> str:
    """``sbatch`` the project's script (without waiting); its job id."""
    job_env = {**env, **(extra_env or {})}
    done = subprocess.run(
        ["sbatch", "--parsable", f"--output={tmp_path}/%j.out", f"--error={tmp_path}/%j.err",
         *options, SBATCH_SCRIPT, *args],
        capture_output=True, text=True, env=job_env, cwd=ROOT, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(";")[0]


def job_fields(env: dict[str, str], job: str) -> dict[str, str]:
    done = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True,
                          text=True, env=env, timeout=30)
    return dict(re.findall(r"(\w+)=(\S*)", done.stdout))


def wait_job(env: dict[str, str], job: str, timeout: float) -> dict[str, str]:
    """The job's fields once it has ended (not pending, running or completing)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        fields = job_fields(env, job)
        if fields.get("JobState") not in (None, "PENDING", "RUNNING", "COMPLETING",
                                          "CONFIGURING"):
            return fields
        time.sleep(0.5)
    raise AssertionError(f"job {job} still {job_fields(env, job).get('JobState')}")


def wait_no_processes(job: str, deadline: float = 15) -> list[int]:
    """Processes of the job still alive at the deadline (any with its SLURM_JOB_ID)."""
    return wait_empty(lambda: with_environment(f"SLURM_JOB_ID={job}"), deadline)


def ranks_running(job: str, count: int, deadline: float = 60) -> None:
    """Wait until ranks 0 to ``count - 1`` of the job run ``python -m mpi_lab``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        pids = with_environment(f"SLURM_JOB_ID={job}")
        if all(any(is_rank(pid, rank) for pid in pids) for rank in range(count)):
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job}: fewer than {count} ranks running")


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def local(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "mpi_lab", *args, "--json", "--no-mpi"],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@contextlib.contextmanager
def running_cluster(*up_args: str) -> Iterator[dict[str, str]]:
    """``scripts/cluster up ARGS`` for the block: the environment of a user who submits to it
    (the activated environment, root's variables, nothing else of MPI); down afterwards."""
    made = cluster("up", *up_args)
    assert made.returncode == 0, made.stdout + made.stderr
    conf = re.search(r"SLURM_CONF=(\S+)", cluster("env").stdout)
    assert conf is not None
    env = {**launcher.plain_env(), **scope_env(), "SLURM_CONF": conf.group(1), "MPI_LAB_VENV": sys.prefix}
    try:
        yield env
    finally:
        down = cluster("down")
        assert down.returncode == 0, down.stderr
        assert wait_empty(lambda: named(("slurmctld", "slurmd", "slurmstepd"))) == []


@contextlib.contextmanager
def no_new_shm() -> Iterator[None]:
    """The block adds no /dev/shm entry: ours, Open MPI's, or our pools' semaphores."""
    before = shm_names()
    yield
    added = new_shm(before)
    assert not added, f"/dev/shm entries left: {added}"
