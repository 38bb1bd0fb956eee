"""Finds the subinterpreter APIs: the 3.14 standard library, else the PEP 734 backport, and
says which one is in use and what it can run."""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import Any

from mpi_lab.backends._base import Availability

_BACKPORT_HINT = "pip install interpreters-pep-734 (Python 3.13), or use Python 3.14+"
_BACKPORT = "interpreters-pep-734"


def from_stdlib() -> bool:
    """Python 3.14+: ``concurrent.interpreters`` and ``InterpreterPoolExecutor`` are its own."""
    return sys.version_info >= (3, 14)


def runs_main_functions() -> bool:
    """A function defined in a script's ``__main__`` can run in a subinterpreter: 3.14's own
    API runs the script again there, as spawn does (gh-133485); the 3.13 backport's pool hangs."""
    return from_stdlib()


def implementation() -> str:
    """Which subinterpreter API this Python uses, in a line (for ``info``)."""
    if from_stdlib():
        return "concurrent.interpreters, concurrent.futures.InterpreterPoolExecutor (standard library)"
    if sys.version_info < (3, 12):
        return f"none: subinterpreters need Python 3.12+ ({_BACKPORT_HINT})"
    from importlib import metadata

    try:
        return f"{_BACKPORT} {metadata.version(_BACKPORT)} (the PEP 734 backport)"
    except metadata.PackageNotFoundError:
        return f"none: {_BACKPORT_HINT}"


def interpreters_module() -> ModuleType:
    """``concurrent.interpreters`` (3.14+) or the backport's ``interpreters``."""
    try:
        from concurrent import interpreters  # type: ignore[attr-defined]
    except ImportError:
        from interpreters_backport import interpreters  # type: ignore[import-not-found,no-redef]
    return interpreters


def pool_executor_class() -> Any:
    """``InterpreterPoolExecutor`` from the standard library (3.14+) or the backport."""
    try:
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]
    except ImportError:
        from interpreters_backport.concurrent.futures import (  # type: ignore[import-not-found]
            InterpreterPoolExecutor,
        )

        if sys.version_info[:3] < (3, 13, 1):
            _create_one_at_a_time(sys.modules[InterpreterPoolExecutor.__module__])
    return InterpreterPoolExecutor


@functools.cache  # once per process
def _create_one_at_a_time(module: ModuleType) -> None:
    """Make the pool's workers create their interpreters one at a time.

    On 3.13.0 two workers creating theirs at once can crash the process with a segfault
    (CPython gh-125716, fixed in 3.13.1; counts in benchmarks/RESULTS.md). Only the creation
    waits: the workers' imports still run side by side.
    """
    import threading

    lock = threading.Lock()
    original = module._interpreters

    class OneAtATime:
        def __getattr__(self, name: str) -> Any:
            return getattr(original, name)

        def create(self, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original.create(*args, **kwargs)

    module._interpreters = OneAtATime()


def check(load: Any) -> Availability:
    """Availability of an API loaded by ``load``, with the reason when it does not import."""
    if sys.version_info < (3, 12):
        return Availability(
            False, f"subinterpreters with their own GIL need Python 3.12+ (this is "
            f"{sys.version_info.major}.{sys.version_info.minor})"
        )
    try:
        load()
    except ImportError as exc:
        return Availability(False, f"{exc}; {_BACKPORT_HINT}")
    return Availability(True)
