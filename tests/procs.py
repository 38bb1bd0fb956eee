"""Helpers for tests that run mpi_lab in a subprocess: deadlines and leftover checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _stat_table() -> dict[int, tuple[str, list[str]]]:
    """Every live (non-zombie) process: its command name, and the fields of /proc/PID/stat
    after the name (state ppid pgrp session ...)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        if fields[0] != "Z":
            table[int(stat.parent.name)] = (head.split("(", 1)[1], fields)
    return table


def descendants(pid: int) -> list[int]:
    """Live processes below ``pid`` in the process tree (launchers may start new sessions)."""
    children: dict[int, list[int]] = {}
    for child, (_, fields) in _stat_table().items():
        children.setdefault(int(fields[1]), []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    table = _stat_table()
    return [pid for pid in pids if pid in table]


def session_members(sid: int) -> list[int]:
    """PIDs of live processes in session ``sid`` (a subprocess started with a new session)."""
    return [pid for pid, (_, fields) in _stat_table().items() if int(fields[3]) == sid]


def named(names: tuple[str, ...]) -> list[int]:
    """Live processes whose command name is one of ``names``."""
    return [pid for pid, (name, _) in _stat_table().items() if name in names]


def with_environment(entry: str) -> list[int]:
    """Live processes whose environment holds ``entry`` (e.g. ``SLURM_JOB_ID=7``)."""
    found = []
    for pid in _stat_table():
        try:
            if entry.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
        except OSError:
            continue
    return found


def wait_empty(find: Callable[[], list[int]], deadline: float = 10.0) -> list[int]:
    """Poll ``find`` until it finds nothing; what it still finds at the deadline."""
    end = time.monotonic() + deadline
    while (left := find()) and time.monotonic() < end:
        time.sleep(0.1)
    return left


def wait_session_empty(sid: int, deadline: float = 10.0) -> list[int]:
    """Wait until no process of the session is left; return those still there at the deadline."""
    return wait_empty(lambda: session_members(sid), deadline)


def shm_segments() -> set[str]:
    """Shared-memory segments of ours (and of MPI's shared-memory transport).

    Those of the simulated hosts (``sm_segment.mpilab-h*``) are left out: a killed multi-host
    job cannot remove them, ``scripts/hosts down`` does, and test_hosts checks that it did.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return set()
    return {
        p.name for p in shm.iterdir()
        if p.name.startswith(("mpi_lab_", "sm_segment")) and ".mpilab-h" not in p.name
    }


def lab(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start ``python -m mpi_lab ARGS`` in its own session, output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "mpi_lab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def is_rank(pid: int, rank: int) -> bool:
    """``pid`` is MPI rank ``rank`` running ``python -m mpi_lab`` (not mpiexec, not a worker)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return argv[1:3] == [b"-m", b"mpi_lab"] and (
        f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ
        or f"PMI_RANK={rank}".encode() in environ
    )
