"""The one way the lab polls: sleep between tests, short at first, doubling up to a cap."""

from __future__ import annotations

import time

# Seconds. Short at first: an answer (a peer at a barrier, a chunk) is usually a moment away,
# and each wasted ms counts in `seconds`; the cap costs the ranks still computing next to no
# CPU (a blocking MPI call would spin on a core they share).
FIRST = 0.0001
CAP = 0.002


class Backoff:
    """Pauses for a polling loop: ``sleep()`` between tests, ``reset()`` after progress."""

    __slots__ = ("_pause",)

    def __init__(self) -> None:
        self._pause = FIRST

    def sleep(self) -> None:
        time.sleep(self._pause)
        self._pause = min(2 * self._pause, CAP)

    def reset(self) -> None:
        self._pause = FIRST
