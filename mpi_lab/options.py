"""How to run a job: one typed, validated object, the same from the CLI and from ``mpi_lab.run``.

Each option has one check here, where it enters: ``RunOptions`` calls it, and the CLI's option
types call the same function, so a bad value reads the same however it was given.
"""

from __future__ import annotations

from typing import Any

from mpi_lab import backends
from mpi_lab.backends import CHOICES
from mpi_lab.core.errors import ConfigError
from mpi_lab.mpi import schedules

FIELDS = ("backend", "workers", "schedule", "start_method", "mpi", "progress", "deadline",
          "explain", "timeline")


def backend_name(value: Any) -> str:
    """``auto`` or the name of a backend."""
    if value not in CHOICES:
        raise ConfigError(f"unknown backend {value!r}; choose from {', '.join(CHOICES)}")
    return str(value)


def worker_count(value: Any) -> int | None:
    """None (``auto``: one per core, shared by the ranks of a node) or a whole number >= 1."""
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"workers: {value!r} is neither 'auto' nor a whole number")
    try:
        count = int(value)
    except ValueError:
        raise ConfigError(f"workers: {value!r} is neither 'auto' nor a whole number") from None
    if count < 1:
        raise ConfigError(f"workers: {count}; must be 'auto' or at least 1")
    return count


def schedule_name(value: Any) -> str | None:
    """None (the workload's own) or the name of a registered schedule."""
    return None if value is None else schedules.check(value)


def start_method_name(value: Any) -> str | None:
    """None (this Python's default) or a start method this platform has."""
    return None if value is None else backends.check_start_method(value)


def deadline_seconds(value: Any) -> float | None:
    """None (no deadline) or a number of seconds > 0."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"deadline: {value!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"deadline: {seconds:g}; must be a number of seconds greater than 0")
    return seconds


def flag(name: str, value: Any) -> bool:
    """True or False."""
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{name}: {value!r}; expected True or False")


def timeline_path(value: Any) -> str | None:
    """None (no timeline) or a file of a kind a timeline is saved as: ``.png`` or ``.json``
    (its folder is checked on rank 0, with the plan)."""
    if value is None:
        return None
    import os

    from mpi_lab.present import timeline

    path = os.fspath(value)
    timeline.check_timeline_kind(path)
    return path


def optional_flag(name: str, value: Any) -> bool | None:
    """None (decided later) or True/False."""
    if value is None or isinstance(value, bool):
        return value
    raise ConfigError(f"{name}: {value!r}; expected True, False or None")


class RunOptions:
    """How a run goes: the local model, its workers, how ranks share the plan, and how it may
    end. Checked as it is made (``ConfigError``, exit 2); read-only after. A plain class, not a
    dataclass: the command line makes one at every start, and a dataclass costs more to define
    than the run it configures."""

    __slots__ = FIELDS

    backend: str
    workers: int | None  # None: one per core, shared by the ranks of a node
    schedule: str | None  # None: the workload's default
    start_method: str | None  # None: this Python's default
    mpi: bool | None  # None: only when started by mpiexec/mpirun/srun
    progress: bool | None  # None: when stderr is a terminal
    deadline: float | None  # seconds
    explain: bool  # measure where the run's time goes (``Report.explain``)
    timeline: str | None  # a file to draw each worker's items in (.png, .json)

    def __init__(self, backend: str = "auto", workers: int | str | None = None,
                 schedule: str | None = None, start_method: str | None = None,
                 mpi: bool | None = None, progress: bool | None = False,
                 deadline: float | str | None = None, explain: bool = False,
                 timeline: Any = None) -> None:
        checked = (backend_name(backend), worker_count(workers), schedule_name(schedule),
                   start_method_name(start_method), optional_flag("mpi", mpi),
                   optional_flag("progress", progress), deadline_seconds(deadline),
                   flag("explain", explain), timeline_path(timeline))
        for name, value in zip(FIELDS, checked, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RunOptions are read-only (make new ones to change {name})")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunOptions) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(FIELDS, self._values(),
                                                                     strict=True))
        return f"RunOptions({shown})"
