"""Fixtures shared by the tests: every backend as a parameter, and leak checks."""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpi_lab import backends

sys.path.insert(0, str(Path(__file__).parent))

from procs import Scope, shm_segments  # importable once the folder is on sys.path


def backend_params(numpy_only: bool = False) -> list:
    """Every backend as a pytest param, skipped with the reason where it is unavailable."""
    params = []
    for name in backends.NAMES:
        cls = backends.backend_class(name)
        status = cls.availability()
        marks = []
        if not status.available:
            marks.append(pytest.mark.skip(reason=f"{name} unavailable: {status.reason}"))
        if numpy_only and not cls.runs_numpy:
            continue
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(params=backend_params())
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=backend_params(numpy_only=True))
def numpy_backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


# This process's own temporary folder, chosen now: each test's TMPDIR is for what it starts.
tempfile.gettempdir()


@pytest.fixture(autouse=True)
def no_leftovers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """After each test: no child process, no extra thread, no new /dev/shm block of ours, and
    nothing left by what the test started (its processes, their files in its own folders:
    ``procs.Scope``), whatever else runs on the machine."""
    scope = Scope()
    for name, value in scope.env().items():
        monkeypatch.setenv(name, value)
    segments = shm_segments()
    threads = set(threading.enumerate())
    yield
    left = scope.finish()
    assert not left["processes"], f"processes the test started still ran: {left['processes']}"
    assert not left["files"], f"files left by what the test started: {left['files']}"
    children = [p for p in multiprocessing.active_children() if p.name != "ForkServerProcess"]
    assert not children, f"child processes left running: {children}"
    # The rank's launcher watch lives as long as the process, by design (mpi_lab.endings.lifeline).
    new_threads = [t for t in threading.enumerate()
                   if t not in threads and t.is_alive() and t.name != "mpi_lab-lifeline"]
    for thread in new_threads:  # give exiting daemon threads a moment
        thread.join(timeout=5)
    assert not [t for t in new_threads if t.is_alive()], f"threads left running: {new_threads}"
    assert shm_segments() <= segments, f"/dev/shm blocks left: {shm_segments() - segments}"


@pytest.fixture
def no_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPI_LAB_FAULT", raising=False)


def cores() -> int:
    return len(os.sched_getaffinity(0))
