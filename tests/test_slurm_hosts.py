"""The batch script on a Slurm cluster of two simulated hosts (``scripts/cluster up 2``): the
wheel's mpiexec starts its daemon on the second node through Slurm, and the answers match a
local run. Skipped, with the reason, where such a cluster cannot be made."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurmjobs import cluster, json_lines, local, no_new_shm, running_cluster, submit, wait_job

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

_CHECK = cluster("check", "2", timeout=30)
if _CHECK.returncode != 0:
    pytest.skip(f"no Slurm cluster of simulated hosts here: {_CHECK.stderr.strip()}",
                allow_module_level=True)

HOSTS = {"mpilab-h1", "mpilab-h2"}


@pytest.fixture(scope="module")
def slurm_env() -> Iterator[dict[str, str]]:
    with running_cluster("2") as env:
        yield env


@pytest.mark.parametrize(("tasks", "cpus"), [(4, 1), (2, 2)], ids=["4x1", "2x2"])
def test_two_node_job_gives_the_local_answers(slurm_env, tmp_path: Path, tasks: int, cpus: int):
    pi_args = "--trials 1000000 --seed 5"
    fractal_args = "--height 200 --width 120 --schedule cyclic"
    with no_new_shm():
        started = time.monotonic()
        job = submit(slurm_env, tmp_path, "--nodes=2", f"--ntasks={tasks}",
                     f"--cpus-per-task={cpus}", args=("--json",),
                     extra_env={"MPI_LAB_PI_ARGS": pi_args, "MPI_LAB_FRACTAL_ARGS": fractal_args})
        fields = wait_job(slurm_env, job, timeout=120)
        print(f"{tasks} tasks x {cpus} CPUs on 2 nodes: job {job} took"
              f" {time.monotonic() - started:.1f} s")
        assert fields["JobState"] == "COMPLETED", (tmp_path / f"{job}.err").read_text()
    pi, fractal = json_lines(tmp_path / f"{job}.out")
    assert pi["hits"] == local("pi", *pi_args.split())["hits"]
    expected = local("fractal", *fractal_args.split())
    assert (fractal["sha256"], fractal["checksum"]) == (expected["sha256"], expected["checksum"])
    for report in (pi, fractal):
        assert report["ranks"] == tasks
        # Ranks spread over both nodes, each with its task's CPUs as workers.
        assert {rank["host"] for rank in report["per_rank"]} == HOSTS
        assert {rank["workers"] for rank in report["per_rank"]} == {cpus}
