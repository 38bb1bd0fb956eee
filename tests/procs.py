"""Helpers for tests that run mpi_lab in a subprocess: deadlines and leftover checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def _stat_fields() -> dict[int, list[str]]:
    """Fields after the command name of /proc/PID/stat, for every live (non-zombie) process."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(stat.parent.name)] = fields
    return table


def descendants(pid: int) -> list[int]:
    """Live processes below ``pid`` in the process tree (launchers may start new sessions)."""
    children: dict[int, list[int]] = {}
    for child, fields in _stat_fields().items():
        children.setdefault(int(fields[1]), []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    table = _stat_fields()
    return [pid for pid in pids if pid in table]


def session_members(sid: int) -> list[int]:
    """PIDs of live processes in session ``sid`` (a subprocess started with a new session)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state ppid pgrp session ...; zombies are already gone.
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_session_empty(sid: int, deadline: float = 10.0) -> list[int]:
    """Wait until no process of the session is left; return those still there at the deadline."""
    end = time.monotonic() + deadline
    while (left := session_members(sid)) and time.monotonic() < end:
        time.sleep(0.1)
    return left


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
