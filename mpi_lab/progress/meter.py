"""How far this process has got: items done of items planned.

The backends count each result as it comes back, so a run that is interrupted or passes its
deadline can say how much it had done, and the live line (``liveline``) can show it while it
runs.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple


class Status(NamedTuple):
    """Where a run is: items done of ``total`` (0: not planned yet); under MPI, ranks still
    working of ``ranks``. (A named tuple: a frozen dataclass costs start-up.)"""

    done: int
    total: int
    working: int | None = None
    ranks: int | None = None


class Meter:
    """Items planned and done in this process; safe to advance from any thread."""

    def __init__(self, owner: str = "") -> None:
        self.owner = owner  # "rank 3" under MPI: whose items these are
        self._lock = threading.Lock()
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self._indices = range(0)  # the plan's indices of the items being mapped now
        self._before = 0  # items done before them

    def plan(self, count: int, indices: range | None = None) -> None:
        """``count`` more items are this process's to do (``indices``: their places in the
        plan, mapped in that order from now on)."""
        with self._lock:
            self.total += count
            if indices is not None:
                self._indices, self._before = indices, self.done

    @property
    def current(self) -> int | None:
        """The plan's index of the first item being mapped that is not done yet, if any."""
        at = self.done - self._before
        return self._indices[at] if 0 <= at < len(self._indices) else None

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count

    def forget(self, planned: int, done: int) -> None:
        """Take back ``planned`` items and ``done`` of them (their work is to be done again)."""
        with self._lock:
            self.total -= planned
            self.done -= done

    def summary(self) -> str:
        """``with 12 of 100 items done``, or under MPI ``rank 3 had done 12 of its 100 items``."""
        if self.owner:
            mine = f" of its {self.total}" if self.total else ""
            return f"{self.owner} had done {self.done}{mine} items"
        of = f" of {self.total}" if self.total else ""
        return f"with {self.done}{of} items done"

    def snapshot(self) -> tuple[int, int]:
        """(items done, the index of the item it is on, or -1)."""
        current = self.current
        return self.done, -1 if current is None else current


_current = Meter()


def current() -> Meter:
    """This process's meter for the run under way."""
    return _current


def start(owner: str = "") -> Meter:
    """A fresh meter for a new run in this process (``owner``: e.g. ``rank 3``)."""
    global _current  # noqa: PLW0603 - one run at a time per process, read by signal handlers
    _current = Meter(owner)
    return _current
