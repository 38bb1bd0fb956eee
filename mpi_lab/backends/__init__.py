"""The local parallel models, one module each, behind one interface (``Backend``).

Kept light on purpose: the CLI imports it for the backend names, and ``--help`` must stay fast,
so the shared machinery (``_base``) and each backend load only when used.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from mpi_lab.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from mpi_lab.backends._base import Availability, Backend

__all__ = ["NAMES", "Availability", "Backend", "availability", "create", "resolve"]


def __getattr__(name: str) -> Any:
    if name in ("Availability", "Backend"):
        from mpi_lab.backends import _base

        return getattr(_base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# name -> (module, class); modules load only when a backend is used.
_REGISTRY = {
    "serial": ("serial", "SerialBackend"),
    "threads": ("threads", "ThreadsBackend"),
    "thread-pool": ("thread_pool", "ThreadPoolBackend"),
    "process-pool": ("process_pool", "ProcessPoolBackend"),
    "shared-memory": ("shared_memory", "SharedMemoryBackend"),
    "interpreter-pool": ("interpreter_pool", "InterpreterPoolBackend"),
    "interpreters": ("interpreters", "InterpretersBackend"),
    "asyncio": ("asyncio_tasks", "AsyncioBackend"),
}
NAMES = tuple(_REGISTRY)
CHOICES = ("auto", *NAMES)
PROCESS_BACKENDS = ("process-pool", "shared-memory")
START_METHODS = ("spawn", "fork", "forkserver")  # for the process backends


def backend_class(name: str) -> type[Backend]:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}; choose from {', '.join(CHOICES)}")
    module, cls = _REGISTRY[name]
    backend: type[Backend] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return backend


def availability(name: str) -> Availability:
    return backend_class(name).availability()


def gil_enabled() -> bool:
    """False only on a free-threaded build running without the GIL."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


class Choice(NamedTuple):
    """The backend a run uses; ``auto``: chosen by ``auto``, for the reason ``why``."""

    name: str
    why: str = ""
    auto: bool = False


def in_process_names() -> list[str]:
    """The backends whose workers share this process (and so can call anything it can)."""
    return [name for name in NAMES if backend_class(name).in_process]


def resolve(name: str, numpy: bool, workers: int | None = None,
            start_method: str | None = None, *, in_main: bool = False,
            unguarded: bool = False, workload: str = "this workload") -> Choice:
    """Turn ``auto`` into the best backend here for the kernels (``numpy``: they import NumPy;
    ``in_main``: they live in ``__main__``, out of reach of other processes and interpreters;
    ``unguarded``: the script has no main guard, so worker processes would run it again)
    and ``workers``; check any other choice, and that a ``start_method`` has processes to
    start."""
    choice = _resolve(name, numpy, workers, in_main, unguarded, workload)
    if start_method is not None and choice.name not in PROCESS_BACKENDS:
        chosen = f"{choice.name} (chosen by auto)" if name == "auto" else repr(choice.name)
        raise ConfigError(
            f"--start-method applies to {' and '.join(PROCESS_BACKENDS)}; backend {chosen}"
            " starts no processes"
        )
    return choice


def _resolve(name: str, numpy: bool, workers: int | None, in_main: bool, unguarded: bool,
             workload: str) -> Choice:
    if name != "auto":
        cls = backend_class(name)
        status = cls.availability()
        if not status.available:
            raise BackendUnavailable(f"backend {name!r} is not available here: {status.reason}")
        if numpy and not cls.runs_numpy:
            raise ConfigError(
                f"backend {name!r} runs subinterpreters, which cannot import NumPy, and the"
                f" kernels of {workload} need it"
            )
        return Choice(name)
    if workers == 1:
        return Choice("serial", "one worker: a pool would only add start-up", True)
    if not gil_enabled():
        return Choice("thread-pool", "free-threaded build: threads run Python in parallel", True)
    if numpy:
        return Choice("thread-pool", "NumPy releases the GIL in its loops", True)
    if in_main:
        return Choice("thread-pool", "the kernel is in __main__: only threads can call it", True)
    if availability("interpreter-pool").available:
        return Choice("interpreter-pool", "pure Python: subinterpreters each have their own GIL",
                      True)
    return _pure_python_without_subinterpreters(unguarded, "")


def _pure_python_without_subinterpreters(unguarded: bool, before: str) -> Choice:
    if unguarded:
        return Choice("thread-pool", f"{before}the script has no main guard: worker processes"
                      " would run it again, threads do not", True)
    return Choice("process-pool", f"{before}pure Python under the GIL: separate processes", True)


def without_subinterpreters(why: str, *, numpy: bool, processes: bool = True) -> Choice:
    """What ``auto`` picks once the kernel proved unable to run in a subinterpreter (``why``,
    in a line): threads for NumPy (``numpy``: it is the module that failed; it releases the
    GIL), else processes (``processes``: the script may start them)."""
    before = f"the kernel cannot run in a subinterpreter ({why}), so "
    if not gil_enabled():
        return Choice("thread-pool", f"{before}threads: this build runs Python in parallel", True)
    if numpy:
        return Choice("thread-pool", f"{before}threads: NumPy releases the GIL", True)
    return _pure_python_without_subinterpreters(not processes, before)


def create(name: str, workers: int, *, start_method: str | None = None) -> Backend:
    """A ready-to-enter backend; ``start_method`` applies to the process backends."""
    cls = backend_class(name)
    try:
        if name in PROCESS_BACKENDS:
            return cls(workers, start_method=start_method)  # type: ignore[call-arg]
        return cls(workers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
