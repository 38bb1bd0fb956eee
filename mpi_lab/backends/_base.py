"""Shared machinery of the backends: the interface and availability (the kernel guard is in
``mpi_lab.guarded``, light enough for every worker to import)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

Kernel = Callable[[Any], Any]


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and if not, why."""

    available: bool
    reason: str = ""


class Backend(ABC):
    """One parallel model: ``map(kernel, items)`` returns results in item order.

    Used as a context manager; a backend holds its workers between ``__enter__`` and
    ``__exit__`` and releases every resource on exit, also after a failure.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    # Interpreter backends run only pure-Python kernels: NumPy cannot load in a subinterpreter.
    runs_numpy: ClassVar[bool] = True
    # Workers run in this interpreter, so kernels can write into this process's arrays.
    in_process: ClassVar[bool] = False

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be greater than 0")
        self.workers = workers

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True)

    def __enter__(self) -> Backend:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:  # noqa: B027 - optional hook
        """Create the workers (a no-op for backends that create them per call)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""

    @abstractmethod
    def map(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        """Apply ``kernel`` to every item; raise the first failure."""
