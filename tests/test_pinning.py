"""Ranks the launcher left unbound pin themselves to a disjoint share of the node's cores,
only when they fit; ``MPI_LAB_PIN=0`` leaves them alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from mpi_lab.mpi import launcher, pinning


@pytest.mark.parametrize(("cpus", "rank", "size", "expected"), [
    ([0, 1], 0, 2, [0]),
    ([0, 1], 1, 2, [1]),
    ([0, 1, 2, 3, 4, 5, 6, 7], 2, 3, [4, 5]),  # 2 cores each, 2 left over
    ([4, 5, 6, 7], 1, 2, [6, 7]),
    ([0, 1], 0, 4, None),  # more ranks than cores: unbound, as Open MPI leaves them
    ([0, 1], 0, 1, None),  # alone on the node: every core is its share already
])
def test_share(cpus, rank, size, expected):
    assert pinning.share(cpus, rank, size) == expected


@pytest.fixture
def machine(monkeypatch):
    """A 4-core machine whose affinity calls are recorded instead of made."""
    pinned: list[list[int]] = []
    affinity = {0: {0, 1, 2, 3}}
    monkeypatch.setattr(pinning.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: affinity[pid])
    monkeypatch.setattr(pinning.os, "sched_setaffinity", lambda pid, cpus: pinned.append(cpus))
    return affinity, pinned


def test_unbound_rank_pins_itself(machine):
    _, pinned = machine
    env = {"OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"}
    assert pinning.pin(env) == [2, 3]
    assert pinned == [[2, 3]]


@pytest.mark.parametrize("env", [
    {"OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2", "MPI_LAB_PIN": "0"},
    {},  # not started by a launcher that says where the rank is
])
def test_no_pinning_when_off_or_not_launched(machine, env):
    _, pinned = machine
    assert pinning.pin(env) is None
    assert pinned == []


def test_a_rank_the_launcher_bound_is_left_alone(machine):
    affinity, pinned = machine
    affinity[0] = {3}
    assert pinning.pin({"MPI_LOCALRANKID": "0", "MPI_LOCALNRANKS": "2"}) is None
    assert pinned == []


PROBE = ("import os; from mpi_lab.mpi import comm; world = comm.world();"
         " print(world.Get_rank(), sorted(os.sched_getaffinity(0)))")


def ranks_cores(ranks: int, **env: str) -> dict[int, list[int]]:
    done = subprocess.run([launcher.mpiexec_path(), "-n", str(ranks), sys.executable, "-c", PROBE],
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**launcher.plain_env(), **env})
    lines = [line.split(" ", 1) for line in done.stdout.splitlines()]
    return {int(rank): ast.literal_eval(cores) for rank, cores in lines}


@pytest.mark.timeout(120)
def test_ranks_under_mpiexec_get_disjoint_cores_only_when_they_fit():
    cores = len(os.sched_getaffinity(0))
    if cores < 2 or cores != os.cpu_count():
        pytest.skip("needs an unbound process on at least 2 cores")
    two = ranks_cores(2)
    assert all(len(c) == cores // 2 for c in two.values())
    assert not set(two[0]) & set(two[1])
    crowded = ranks_cores(cores + 2)
    assert all(len(c) == cores for c in crowded.values())
    assert all(len(c) == cores for c in ranks_cores(2, MPI_LAB_PIN="0").values())
