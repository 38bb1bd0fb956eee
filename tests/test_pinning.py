"""Ranks the launcher left unbound pin themselves to a disjoint share of the node's cores,
only when they fit; ``MPI_LAB_PIN=0`` leaves them alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
from procs import scope_env

from mpi_lab.cluster import detect, launcher, mca, pinning


def flat(cpu: int) -> tuple[int, int]:
    """One hardware thread per core."""
    return (0, cpu)


@pytest.mark.parametrize(("cpus", "rank", "size", "expected"), [
    ([0, 1], 0, 2, [0]),
    ([0, 1], 1, 2, [1]),
    ([0, 1, 2, 3, 4, 5, 6, 7], 2, 3, [6, 7]),  # 3, 3, 2 cores: none left idle
    ([0, 1, 2, 3, 4, 5, 6, 7], 0, 3, [0, 1, 2]),
    ([4, 5, 6, 7], 1, 2, [6, 7]),
    ([0, 1], 0, 4, None),  # more ranks than cores: unbound, as Open MPI leaves them
    ([0, 1], 0, 1, None),  # alone on the node: every core is its share already
])
def test_share(cpus, rank, size, expected):
    assert pinning.share(cpus, rank, size, flat) == expected


def test_share_keeps_a_cores_hardware_threads_together():
    # Intel numbering: CPU n and n + 4 are the two threads of core n % 4.
    def core_of(cpu: int) -> tuple[int, int]:
        return (0, cpu % 4)

    cpus = list(range(8))
    assert [pinning.share(cpus, rank, 2, core_of) for rank in range(2)] == [[0, 1, 4, 5],
                                                                             [2, 3, 6, 7]]
    # More ranks than cores but not than threads: one thread each.
    assert pinning.share(cpus, 5, 8, core_of) == [6]


@pytest.mark.parametrize(("text", "cpus"), [("0-3,8,10-11\n", [0, 1, 2, 3, 8, 10, 11]),
                                            ("5", [5]), ("", [])])
def test_parse_cpu_list(text, cpus):
    assert pinning.parse_cpu_list(text) == cpus


@pytest.fixture
def machine(monkeypatch):
    """A 4-core node whose affinity calls are recorded instead of made."""
    pinned: list[list[int]] = []
    affinity = {0: {0, 1, 2, 3}}
    monkeypatch.setattr(pinning, "node_cpus", lambda: [0, 1, 2, 3])
    monkeypatch.setattr(pinning, "_core_of", flat)
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
    # Inside a batch allocation the node's other CPUs may be someone else's.
    {"OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2", "SLURM_JOB_ID": "7"},
    {},  # not started by a launcher that says where the rank is
])
def test_no_pinning_when_off_in_an_allocation_or_not_launched(machine, env):
    _, pinned = machine
    assert pinning.pin(env) is None
    assert pinned == []


def test_a_rank_the_launcher_bound_is_left_alone(machine):
    affinity, pinned = machine
    affinity[0] = {3}
    assert pinning.pin({"MPI_LOCALRANKID": "0", "MPI_LOCALNRANKS": "2"}) is None
    assert pinned == []


def test_node_cpus_is_a_subset_of_the_machine_and_holds_our_affinity():
    cpus = pinning.node_cpus()
    assert set(os.sched_getaffinity(0)) <= set(cpus)
    assert len(cpus) <= (os.cpu_count() or 1)


PROBE = ("import os; from mpi_lab.mpi import comm; world = comm.world();"
         " print(world.Get_rank(), sorted(os.sched_getaffinity(0)))")


def ranks_cores(ranks: int, **env: str) -> dict[int, list[int]]:
    done = subprocess.run([launcher.mpiexec_path(), "-n", str(ranks), sys.executable, "-c", PROBE],
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**launcher.plain_env(), **scope_env(), **env})
    lines = [line.split(" ", 1) for line in done.stdout.splitlines()]
    return {int(rank): ast.literal_eval(cores) for rank, cores in lines}


@pytest.mark.timeout(120)
def test_ranks_under_mpiexec_get_disjoint_cores_only_when_they_fit():
    cores = len(os.sched_getaffinity(0))
    if cores < 2 or sorted(os.sched_getaffinity(0)) != sorted(pinning.node_cpus()):
        pytest.skip("needs an unbound process on at least 2 cores")
    if detect.in_allocation():
        pytest.skip("inside a batch allocation ranks are not pinned")
    if not any(f.key == "rmaps_default_mapping_policy" for f in mca.current(mca.wheel_files())):
        pytest.skip("needs oversubscription allowed by the parameter files (a workstation)")
    two = ranks_cores(2)
    assert all(len(c) == cores // 2 for c in two.values())
    assert not set(two[0]) & set(two[1])
    crowded = ranks_cores(cores + 2)
    assert all(len(c) == cores for c in crowded.values())
    assert all(len(c) == cores for c in ranks_cores(2, MPI_LAB_PIN="0").values())
