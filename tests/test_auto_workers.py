"""``--workers auto`` under MPI: this rank's share of its node's cores."""

from __future__ import annotations

import pytest

from mpi_lab.cluster import pinning
from mpi_lab.mpi import coordinator


@pytest.mark.parametrize(("cores", "bound_to", "local_ranks", "environ", "expected"), [
    (8, 8, 4, {}, 2),  # the node's CPUs: the machine's, or its container's or job's cpuset
    (8, 8, 3, {}, 2),
    (8, 8, 16, {}, 1),  # more ranks than cores: still one worker each
    (8, 1, 2, {}, 1),  # the launcher bound the rank to one core
    (8, 8, 1, {"SLURM_CPUS_PER_TASK": "2"}, 2),  # the Slurm task's CPUs, not the node's
    (2, 2, 1, {"SLURM_CPUS_PER_TASK": "1"}, 1),
    (2, 2, 1, {"SLURM_CPUS_PER_TASK": ""}, 2),
])
def test_share_of_node(monkeypatch, cores, bound_to, local_ranks, environ, expected):
    monkeypatch.setattr(pinning, "node_cpus", lambda: list(range(cores)))
    monkeypatch.setattr(coordinator, "local_cores", lambda: bound_to)
    assert coordinator.share_of_node(local_ranks, environ) == expected
