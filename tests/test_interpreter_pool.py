"""Interpreter pools started one after another do not crash the process (on Python 3.13.0
two workers creating their interpreters at once could: CPython gh-125716)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mpi_lab import backends

pytestmark = [
    pytest.mark.skipif(not backends.availability("interpreter-pool").available,
                       reason="interpreter-pool unavailable here"),
    pytest.mark.timeout(120),
]

MANY_POOLS = """
from mpi_lab import backends
for _ in range(200):
    with backends.create("interpreter-pool", 2) as pool:
        assert pool.map(abs, [-k for k in range(8)]) == list(range(8))
"""


def test_many_two_worker_pools_in_one_process():
    # In a subprocess: a crash must fail this test, not end the test run.
    done = subprocess.run([sys.executable, "-c", MANY_POOLS], capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
