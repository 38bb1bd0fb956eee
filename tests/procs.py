"""Helpers for tests that run mpi_lab in a subprocess: deadlines and leftover checks."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
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
    """Shared-memory blocks of ours in /dev/shm (the shared-memory backend's).

    Open MPI's segments (``sm_segment.*``) of the jobs a test starts go to the test's own
    folder (``Scope``), where they are counted: any other MPI job's in /dev/shm are not ours.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return set()
    return {p.name for p in shm.iterdir() if p.name.startswith("mpi_lab_")}


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


# -- what one test started -----------------------------------------------------------------

SCOPE_ENV = "MPI_LAB_TEST_SCOPE"  # in the environment of every process a test starts
_HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")
BACKING_ENV = "OMPI_MCA_btl_sm_backing_directory"  # where Open MPI's shared memory goes


class Scope:
    """What one test starts, found whatever it becomes, and nothing else.

    Every process the test starts carries ``MPI_LAB_TEST_SCOPE=<id>`` in its environment, and
    makes its files in folders of the test's own: ``TMPDIR`` (multiprocessing's ``pymp-*``,
    Open MPI's session folders ``ompi.*``/``prte.*``) and Open MPI's shared-memory folder
    (``sm_segment.*``), under /tmp and /dev/shm. Another MPI job on the machine writes
    elsewhere and cannot fail the test; a straggler of this test is waited for, and blamed on
    this test, before the next one starts.
    """

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.tmp = Path("/tmp") / f"mpi_lab-test-{self.id}"
        shm = Path("/dev/shm")
        self.shm = (shm if shm.is_dir() else self.tmp) / f"mpi_lab-test-{self.id}-shm"
        self.tmp.mkdir()
        self.shm.mkdir()

    def env(self) -> dict[str, str]:
        return {SCOPE_ENV: self.id, "TMPDIR": str(self.tmp), BACKING_ENV: str(self.shm)}

    def processes(self) -> list[int]:
        """The test's live processes, but this process's own multiprocessing helpers (its
        forkserver and resource tracker live as long as it does, whichever test started
        them)."""
        table = _stat_table()
        me = os.getpid()
        return [pid for pid in with_environment(f"{SCOPE_ENV}={self.id}")
                if not (pid in table and int(table[pid][1][1]) == me
                        and any(helper in _command(pid) for helper in _HELPERS))]

    def finish(self, wait: float = 10.0) -> dict[str, list[str]]:
        """Wait up to ``wait`` seconds for the test's processes to end; what it left: those
        still running (then killed), and the files in its folders (then removed)."""
        stragglers = wait_empty(self.processes, wait)
        described = [f"{pid} {_command(pid)}" for pid in stragglers]
        for pid in stragglers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        files = sorted(str(path) for folder in (self.tmp, self.shm) for path in folder.rglob("*")
                       if path.parent == folder)
        for folder in (self.shm, self.tmp):
            shutil.rmtree(folder, ignore_errors=True)
        return {"processes": described, "files": files}


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def scope_env() -> dict[str, str]:
    """The running test's scope variables, to give back to an environment made without them
    (``launcher.plain_env`` drops every ``OMPI_`` variable)."""
    names = (SCOPE_ENV, "TMPDIR", BACKING_ENV)
    return {name: os.environ[name] for name in names if name in os.environ}


def _mapped_by_others(names: set[str]) -> set[str]:
    """Those of ``names`` (in /dev/shm) that a live process of no test's scope maps: another
    job's, on the same machine."""
    held = set()
    for pid in _stat_table():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        if f"{SCOPE_ENV}=".encode() in environ:
            continue
        held |= {name for name in names if f"/dev/shm/{name}" in maps}
    return held


def new_shm(before: set[str], prefixes: tuple[str, ...] = ("mpi_lab_", "sem.mp-")) -> list[str]:
    """/dev/shm entries with ``prefixes`` made since ``before`` and not another job's (held by
    a process that no test started); waits a moment for those still being removed."""
    shm = Path("/dev/shm")

    def found() -> list[str]:
        if not shm.is_dir():
            return []
        added = {p.name for p in shm.iterdir() if p.name.startswith(prefixes)} - before
        return sorted(added - _mapped_by_others(added))

    return wait_empty(found)


def shm_names(prefixes: tuple[str, ...] = ("mpi_lab_", "sem.mp-")) -> set[str]:
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir() if p.name.startswith(prefixes)} if shm.is_dir() else set()
