"""Processes that end when the process they belong to is gone.

A pool worker belongs to the rank that made the pool; an MPI rank belongs to the launcher daemon
that started it. Neither is told when its owner dies abruptly (SIGKILL, a lost host), so each
watches its owner and leaves by itself rather than running on, orphaned, perhaps forever.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Callable

_POLL = 0.25  # seconds, where pidfd is missing


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_exit(pid: int) -> None:
    try:
        with contextlib.closing(os.pidfd_open(pid)) as pidfd:  # type: ignore[attr-defined]
            select.select([pidfd], [], [])  # readable once the process has exited
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): poll instead
        while alive(pid):
            time.sleep(_POLL)


def exit_with(owner: int, message: str = "", code: int = 1,
              before: Callable[[], None] | None = None) -> None:
    """From now on, end this process (after ``before()`` and printing ``message``) as soon as
    ``owner`` exits."""

    def watch() -> None:
        _wait_for_exit(owner)
        try:
            if before is not None:
                before()
            if message:
                # The owner may have held the other end of stderr: a broken pipe must not keep
                # this process alive.
                sys.stderr.write(message + "\n")
                sys.stderr.flush()
        except Exception:  # noqa: S110 - nothing may stop the exit below
            pass
        finally:
            os._exit(code)

    threading.Thread(target=watch, name="mpi_lab-lifeline", daemon=True).start()
