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

from conftest import shm_segments

from mpi_lab.mpi import launcher

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = str(ROOT / "scripts" / "cluster")
SBATCH_SCRIPT = str(ROOT / "scripts" / "slurm.sbatch")


def cluster(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([CLUSTER, *args], capture_output=True, text=True, timeout=timeout)


def live(names: tuple[str, ...]) -> list[int]:
    """Live (not zombie) processes with one of these command names."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] in names and tail.split()[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def wait_gone(names: tuple[str, ...], deadline: float = 10) -> list[int]:
    end = time.monotonic() + deadline
    while (left := live(names)) and time.monotonic() < end:
        time.sleep(0.2)
    return left


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


def job_processes(job: str) -> list[int]:
    """Live processes of the job: any with ``SLURM_JOB_ID=job`` in its environment."""
    marker = f"SLURM_JOB_ID={job}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                stat = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def wait_no_processes(job: str, deadline: float = 15) -> list[int]:
    end = time.monotonic() + deadline
    while (left := job_processes(job)) and time.monotonic() < end:
        time.sleep(0.2)
    return left


def ranks_running(job: str, count: int, deadline: float = 60) -> None:
    """Wait until ``count`` ranks of the job run ``python -m mpi_lab``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ranks = [pid for pid in job_processes(job)
                 if b"-m\0mpi_lab" in Path(f"/proc/{pid}/cmdline").read_bytes()
                 and any(b"OMPI_COMM_WORLD_RANK=" in v for v in
                         Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))]
        if len(ranks) >= count:
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
    env = {**launcher.plain_env(), "SLURM_CONF": conf.group(1), "MPI_LAB_VENV": sys.prefix}
    try:
        yield env
    finally:
        down = cluster("down")
        assert down.returncode == 0, down.stderr
        assert wait_gone(("slurmctld", "slurmd", "slurmstepd")) == []


@contextlib.contextmanager
def no_new_shm() -> Iterator[None]:
    """The block adds no /dev/shm entry: ours, Open MPI's, or our pools' semaphores."""
    before = _shm()
    yield
    added = _shm() - before
    assert not added, f"/dev/shm entries left: {sorted(added)}"


def _shm() -> set[str]:
    return shm_segments() | {p.name for p in Path("/dev/shm").glob("sem.mp-*")}
