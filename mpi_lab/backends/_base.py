"""Shared machinery of the backends: the interface and availability (the kernel guard is in
``mpi_lab.core.kernel_calls``, light enough for every worker to import)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, NamedTuple

Kernel = Callable[[Any], Any]
# Item -> (array typecode, count) of its result, when the workload declares it.
Layout = Callable[[Any], tuple[str, int]]
# Called with a count of items whose results are in, from any thread (progress, deadlines).
Done = Callable[[int], None]
# Called in the calling thread with an item and its result as the result comes in (threads'
# once they are all in); what it returns stands for the result: results copied to their final
# places on arrival are not all held until the map ends.
Place = Callable[[Any, Any], Any]
# Items a backend takes ahead of the results it has collected: enough to keep every worker
# busy and to hand a usual plan out at once (refilling item by item wakes the main thread, and
# with thread workers costs GIL hand-offs), few enough that a plan of any size costs constant
# memory.
AHEAD_PER_WORKER = 64
AHEAD_AT_LEAST = 1024


def no_progress(count: int) -> None:
    """A ``Done`` that counts nothing."""


class Availability(NamedTuple):
    """Whether a backend can run here, and if not, why. (A named tuple: a frozen dataclass
    costs every run its making at start-up.)"""

    available: bool
    reason: str = ""


class Backend(ABC):
    """One parallel model: ``map(kernel, items)`` returns results in item order.

    Used as a context manager; a backend holds its workers between ``__enter__`` and
    ``__exit__`` and releases every resource on exit, also after a failure.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    # Capability flags, as the backend's registration line in ``mpi_lab.backends`` sets them.
    # Workers run in this interpreter: kernels can write into this process's arrays, and
    # items and results are not pickled.
    in_process: ClassVar[bool] = False
    # Workers are subinterpreters: only pure-Python kernels, NumPy cannot load there.
    subinterpreters: ClassVar[bool] = False
    runs_numpy: ClassVar[bool] = True
    # Workers are processes, started by a start method (``start_method``).
    starts_processes: ClassVar[bool] = False
    # ``map`` puts laid-out results in their places itself (``layout`` given): the kernel
    # returns them as they are.
    places_laid_out_results: ClassVar[bool] = False

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be greater than 0")
        self.workers = workers

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True)

    def __enter__(self) -> Backend:
        try:
            self.start()
        except BaseException:
            self.abandon()  # whatever was started
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abandon()

    def start(self) -> None:  # noqa: B027 - optional hook
        """Create the workers (a no-op for backends that create them per call)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""

    def abandon(self) -> None:
        """Release the workers at once, work in progress lost: the run is ending (an error,
        a signal, a deadline). The default waits like ``close``."""
        self.close()

    @property
    def ahead(self) -> int:
        """How many items this backend hands out before collecting their results."""
        return max(AHEAD_AT_LEAST, AHEAD_PER_WORKER * self.workers)

    @abstractmethod
    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
        """Apply ``kernel`` to every item, in order, taking ``items`` as it goes (never more
        than ``ahead`` unfinished); call ``done`` as results come in; raise the first failure.
        ``layout``, where given, says each result's type and size (shared memory uses it).
        ``place``, where given, takes each result as it comes in (``Place``).
        """
