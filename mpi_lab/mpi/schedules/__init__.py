"""How rank 0 hands the plan out to the ranks: registered strategies, one module each.

A schedule is a ``Schedule`` (``base``): its name, a line for ``--help``, the MPI thread level
it needs, and ``hand_out``, which gives a rank its chunks of the plan as ranges of the plan's
indices with their items (a range pickles in a few bytes, and slices a lazy plan without
listing it). ``block`` and ``cyclic`` cut the plan once on rank 0 and scatter it; ``dynamic``
serves chunks on request. A new schedule is one module and its line in ``_REGISTRY``; names are
checked here, once, where they enter a run (``check``).

Light on purpose: the CLI reads the names for ``--help``; a schedule's module loads when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mpi_lab.core.errors import ConfigError

if TYPE_CHECKING:
    from mpi_lab.mpi.schedules.base import Schedule

# name -> (module, class, what it does in a line); modules load only when a schedule is used.
_REGISTRY = {
    "block": ("block", "Block", "neighbouring items together, one share per rank"),
    "cyclic": ("cyclic", "Cyclic", "items dealt out in turn: costly regions spread over ranks"),
    "dynamic": ("dynamic", "Dynamic", "chunks handed out as ranks ask: uneven items balance"),
}
NAMES = tuple(_REGISTRY)
DEFAULT = "block"


def check(name: Any, whose: str = "schedule") -> str:
    """``name`` if it names a schedule; else a ``ConfigError`` listing the ones there are."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown {whose} {name!r}; choose from {', '.join(NAMES)}")
    return str(name)


def summary(name: str) -> str:
    """What schedule ``name`` does, in a line."""
    return _REGISTRY[name][2]


def get(name: str) -> Schedule:
    """The schedule called ``name`` (checked)."""
    module, cls = _REGISTRY[check(name)][:2]
    schedule: Schedule = getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
    return schedule


def split(count: int, ranks: int, name: str) -> list[range]:
    """One share of ``range(count)`` per rank, as the static schedule ``name`` cuts it."""
    if ranks < 1:
        raise ValueError("ranks must be greater than 0")
    schedule = get(name)
    if not hasattr(schedule, "split"):
        raise ValueError(f"schedule {name!r} is not a static split")
    return schedule.split(count, ranks)  # type: ignore[no-any-return]


def chunk_size(items: int, ranks: int) -> int:
    """Items per dynamic request: about four requests per rank, so slow ranks take less."""
    return max(1, items // (4 * ranks))


def chunks(count: int, size: int) -> Iterator[range]:
    """Consecutive ranges of ``size`` indices of ``range(count)``, made as they are asked for."""
    return (range(at, min(at + size, count)) for at in range(0, count, size))


def take(plan: Sequence[Any], indices: range) -> Sequence[Any]:
    """The items of ``plan`` at ``indices``: a slice where the plan slices (a lazy plan stays
    lazy), else a list."""
    if indices == range(len(plan)):
        return plan
    try:
        share = plan[indices.start : indices.stop : indices.step]
    except (TypeError, ValueError):
        share = None
    if share is None or len(share) != len(indices):
        return [plan[index] for index in indices]
    return share
