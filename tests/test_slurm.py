"""The project's Slurm batch script on a real Slurm test cluster (``scripts/cluster``).

Same answers as a local run; a job past its time limit, a job whose rank dies and a cancelled
job each end failed, with no process and no /dev/shm entry left. Skipped, with the reason,
where a cluster cannot be made (not root, no Slurm and no apt-get to install it).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurmjobs import (
    cluster,
    json_lines,
    local,
    no_new_shm,
    ranks_running,
    running_cluster,
    submit,
    wait_job,
    wait_no_processes,
)

PI_ARGS = "--trials 2000000 --seed 3"
FRACTAL_ARGS = "--height 301 --width 157 --maxiter 25 --schedule cyclic"

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

_CHECK = cluster("check", timeout=30)
if _CHECK.returncode != 0:
    pytest.skip(f"no Slurm test cluster here: {_CHECK.stderr.strip()}", allow_module_level=True)


@pytest.fixture(scope="module")
def slurm_env() -> Iterator[dict[str, str]]:
    """A one-node cluster, up for the module: the environment that reaches it."""
    with running_cluster() as env:
        yield env


@pytest.fixture
def leftovers() -> Iterator[None]:
    with no_new_shm():
        yield


SIZES = {
    "2 ranks x 1 worker": ("--nodes=1", "--ntasks=2", "--ntasks-per-node=2", "--cpus-per-task=1"),
    "1 rank x 2 workers": ("--nodes=1", "--ntasks=1", "--cpus-per-task=2"),
}


@pytest.mark.parametrize("size", SIZES)
def test_sbatch_gives_the_local_answers(slurm_env, tmp_path: Path, size: str, leftovers):
    started = time.monotonic()
    job = submit(slurm_env, tmp_path, *SIZES[size], args=("--json",),
                 extra_env={"MPI_LAB_PI_ARGS": PI_ARGS, "MPI_LAB_FRACTAL_ARGS": FRACTAL_ARGS})
    # Polled: `sbatch --wait` looks only after 2, 10, 42 s.
    fields = wait_job(slurm_env, job, timeout=120)
    print(f"{size}: job {job} took {time.monotonic() - started:.1f} s")
    err = (tmp_path / f"{job}.err").read_text()
    assert fields["JobState"] == "COMPLETED", err
    pi, fractal = json_lines(tmp_path / f"{job}.out")
    assert pi["hits"] == local("pi", *PI_ARGS.split())["hits"]
    expected = local("fractal", *FRACTAL_ARGS.split())
    assert (fractal["sha256"], fractal["checksum"]) == (expected["sha256"], expected["checksum"])
    ranks, workers = (2, 1) if size.startswith("2") else (1, 2)
    for report in (pi, fractal):
        assert report["ranks"] == ranks
        # Hybrid: each rank ran its --cpus-per-task workers.
        assert [rank["workers"] for rank in report["per_rank"]] == [workers] * ranks
    assert wait_no_processes(job) == []


@pytest.mark.parametrize("size", SIZES)
def test_salloc_then_plain_mpiexec_uses_the_allocation(slurm_env, size: str, leftovers):
    # As README shows it: mpiexec without -n inside the allocation, --workers auto.
    done = subprocess.run(["salloc", *SIZES[size], "mpiexec", "python", "-m", "mpi_lab", "pi",
                           *PI_ARGS.split(), "--json"],
                          capture_output=True, text=True, env=slurm_env, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["hits"] == local("pi", *PI_ARGS.split())["hits"]
    ranks, workers = (2, 1) if size.startswith("2") else (1, 2)
    assert report["ranks"] == ranks
    assert [rank["workers"] for rank in report["per_rank"]] == [workers] * ranks


def test_job_past_its_time_limit_fails_and_leaves_nothing(slurm_env, tmp_path: Path, leftovers):
    started = time.monotonic()
    job = submit(slurm_env, tmp_path, "--time=1", *SIZES["2 ranks x 1 worker"],
                 extra_env={"MPI_LAB_PI_ARGS": "--trials 100000000000"})
    ranks_running(job, 2)
    # Slurm counts limits in minutes and checks them every 30 s.
    fields = wait_job(slurm_env, job, timeout=150)
    print(f"job {job} ended {fields['JobState']} after {time.monotonic() - started:.1f} s")
    assert fields["JobState"] == "TIMEOUT"
    assert wait_no_processes(job) == []


def test_job_whose_rank_dies_fails_and_leaves_nothing(slurm_env, tmp_path: Path, leftovers):
    started = time.monotonic()
    job = submit(slurm_env, tmp_path, *SIZES["2 ranks x 1 worker"],
                 extra_env={"MPI_LAB_PI_ARGS": PI_ARGS, "MPI_LAB_FAULT": "exit@1"})
    fields = wait_job(slurm_env, job, timeout=60)
    print(f"job {job} ended {fields['JobState']} ({fields['ExitCode']}) after"
          f" {time.monotonic() - started:.1f} s")
    assert fields["JobState"] == "FAILED"
    assert fields["ExitCode"] == "17:0"  # the dead rank's own exit code (faults.py)
    assert wait_no_processes(job) == []


def test_scancel_mid_run_leaves_nothing(slurm_env, tmp_path: Path, leftovers):
    job = submit(slurm_env, tmp_path, *SIZES["2 ranks x 1 worker"],
                 extra_env={"MPI_LAB_PI_ARGS": "--trials 100000000000"})
    ranks_running(job, 2)
    time.sleep(0.5)
    started = time.monotonic()
    subprocess.run(["scancel", job], env=slurm_env, check=True, timeout=30)
    fields = wait_job(slurm_env, job, timeout=60)
    print(f"job {job} ended {fields['JobState']} {time.monotonic() - started:.1f} s after scancel")
    assert fields["JobState"] == "CANCELLED"
    assert wait_no_processes(job) == []
