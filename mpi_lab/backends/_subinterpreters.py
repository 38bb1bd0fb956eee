"""Finds the subinterpreter APIs: the 3.14 standard library, else the PEP 734 backport."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from mpi_lab.backends._base import Availability

_BACKPORT_HINT = "pip install interpreters-pep-734 (Python 3.13), or use Python 3.14+"


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
    return InterpreterPoolExecutor


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
