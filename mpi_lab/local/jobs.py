"""A run's work: a workload and its parameters, ready for any coordinator (local or MPI).

The coordinators ask a job for the plan, the kernel, how results travel (``layout``) and the
answer from all results in plan order; they never ask which workload it is.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mpi_lab.core.errors import ConfigError, WorkerError
from mpi_lab.core.kernel_calls import module_of
from mpi_lab.core.results import SlotLayout
from mpi_lab.workloads.contract import Layout, Workload, load

if TYPE_CHECKING:
    from pathlib import Path


class Job:
    """``workload`` with ``params`` (``plan``'s defaults filled in). Not changed once made. (A
    plain class: a frozen dataclass costs every run its making at start-up.)"""

    def __init__(self, workload: Workload, params: dict[str, Any] | None = None) -> None:
        self.workload = workload
        self.params: dict[str, Any] = {} if params is None else params

    def __repr__(self) -> str:
        return f"Job({self.workload.name!r}, {self.params!r})"

    @classmethod
    def of(cls, target: Any, params: dict[str, Any] | None = None) -> Job:
        """The job for a workload spec, module or object, with ``params`` for its ``plan`` (a
        job is itself, if no other params are given)."""
        if isinstance(target, Job):
            return cls(target.workload, {**target.params, **params}) if params else target
        workload = load(target)
        return cls(workload, workload.params(dict(params or {})))

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def default_schedule(self) -> str:
        return self.workload.default_schedule

    @property
    def kernel(self) -> Callable[[Any], Any]:
        return self.workload.kernel

    @property
    def layout(self) -> Callable[[Any], Layout] | None:
        """Item -> (typecode, count) of its result, if the workload declares it."""
        return self.workload.result_layout

    def slot_layout(self, travelling: bool = False) -> SlotLayout | None:
        """Item -> (typecode, count) of its result as this rank keeps it: in the layout's
        narrower wire typecode (its optional third element) when the results travel to
        another process or rank."""
        return None if self.layout is None else SlotLayout(self.layout, travelling)

    @functools.cached_property  # asked on every run and chunk; inspects a signature
    def writes_in_place(self) -> bool:
        """The kernel takes ``out``: in-process workers hand it its result's slot."""
        return self.layout is not None and self.workload.kernel_takes_out

    @functools.cached_property
    def _numpy(self) -> bool:
        return self.workload.uses_numpy(self.params)

    def uses_numpy(self) -> bool:
        """The kernels import NumPy (asked of the workload once)."""
        return self._numpy

    def preload(self) -> float:
        """Import NumPy if the kernels need it, and run the workload's ``warm_up``, so that
        start-up is not counted as compute: the seconds ``warm_up`` took (a failing one is the
        workload's error, exit 1, named)."""
        if self.uses_numpy():
            import numpy  # noqa: F401
        with self._failing("warm_up"):
            return self.workload.warmed(self.params)

    def plan(self) -> Sequence[Any]:
        return self.workload.make_plan(self.params)

    def combine(self, results: list[Any]) -> Any:
        """The answer from every result in plan order; a failing ``combine`` is the
        workload's error (exit 1), named."""
        with self._failing("combine"):
            return self.workload.combined(results, self.params)

    def output_size(self, path: str) -> int | None:
        """The bytes a file of the answer at ``path`` will need (None: unknown); a
        ``ConfigError`` if the workload cannot save it there."""
        return self.workload.output_bytes(path, self.params)

    def save(self, answer: Any, path: Path) -> None:
        """Write ``answer`` to ``path`` by the workload's ``save``; a failure of the file
        (``OSError``) goes through, any other is the workload's error (exit 1), named."""
        with self._failing("save", passing=OSError):
            self.workload.saved(answer, path, self.params)

    @contextlib.contextmanager
    def _failing(self, step: str, passing: type[BaseException] | tuple[()] = ()
                 ) -> Iterator[None]:
        """An exception in the workload's ``step`` as a ``WorkerError`` naming it, with its
        traceback (``passing``: exceptions that go through as they are)."""
        try:
            yield
        except passing:
            raise
        except Exception as exc:
            import traceback

            raise WorkerError(f"{self.name}: {step} failed: {type(exc).__name__}: {exc}",
                              traceback.format_exc()) from exc

    def in_main(self) -> bool:
        """The kernel is defined in ``__main__``: only in-process workers can call it."""
        return module_of(self.kernel) == "__main__"

    def check_reachable(self, backend: str, reachable: bool) -> None:
        """Refuse a kernel from ``__main__`` for workers that cannot call it (``reachable``
        False): worker processes, which cannot import it (pickling it would fail), and
        subinterpreters before 3.14 (the backport's pool would wait for ever) or outside a
        script (a notebook, ``-c``)."""
        if reachable or not self.in_main():
            return
        raise ConfigError(
            f"backend {backend!r}: the kernel of {self.name} is defined in __main__ (a script"
            " or notebook), out of this backend's workers' reach: worker processes import a"
            " kernel by its module's name, and so do subinterpreters (Python 3.14+ runs a"
            " guarded script again in them; not 3.13, nor a notebook); move plan, kernel and"
            " combine into a module (mywork.py) and pass 'mywork', or use an in-process"
            " backend (serial, threads, thread-pool, asyncio)"
        )
