"""The local parallel models, one module each, behind one interface (``Backend``), and their
public registry: names, capability flags (``flags``: in-process, subinterpreters, runs NumPy,
starts processes), start methods, and ``auto``. Every message and every ``auto`` decision
reads the flags, so a new backend is one module (its class declares them) and its line in
``_REGISTRY``.

Kept light on purpose: the CLI imports it for the backend names, and ``--help`` must stay fast,
so the shared machinery (``_base``) and each backend load only when used.

May import: ``mpi_lab.endings``, ``mpi_lab.progress``, ``mpi_lab.core``.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from mpi_lab.core.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from mpi_lab.backends._base import Availability, Backend

__all__ = ["NAMES", "Availability", "Backend", "availability", "create", "resolve"]


def __getattr__(name: str) -> Any:
    if name in ("Availability", "Backend"):
        from mpi_lab.backends import _base

        return getattr(_base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

class Flags:
    """What a backend can do, as its registration line declares it. (A plain class: a named
    tuple's making would cost every ``python -m mpi_lab`` its start-up.)"""

    __slots__ = ("in_process", "runs_numpy", "starts_processes", "subinterpreters")
    NAMES = ("in_process", "subinterpreters", "runs_numpy", "starts_processes")

    def __init__(self, *, in_process: bool, subinterpreters: bool, runs_numpy: bool,
                 starts_processes: bool) -> None:
        self.in_process = in_process  # workers share this process: nothing pickled, in place
        self.subinterpreters = subinterpreters  # workers are subinterpreters: pure Python only
        self.runs_numpy = runs_numpy  # kernels may import NumPy
        self.starts_processes = starts_processes  # workers are processes: a start method

    @property
    def needs_pickling(self) -> bool:
        """Items and results cross to another interpreter or process."""
        return not self.in_process

    def items(self) -> list[tuple[str, bool]]:
        return [(name, getattr(self, name)) for name in self.NAMES]

    def __repr__(self) -> str:
        return f"Flags({', '.join(f'{name}={value}' for name, value in self.items())})"


IN_PROCESS = Flags(in_process=True, subinterpreters=False, runs_numpy=True,
                   starts_processes=False)
PROCESSES = Flags(in_process=False, subinterpreters=False, runs_numpy=True, starts_processes=True)
SUBINTERPRETERS = Flags(in_process=False, subinterpreters=True, runs_numpy=False,
                        starts_processes=False)

# name -> (module, class, flags): the one registration line of each backend. Its module loads
# only when the backend is used; its flags are known without loading it.
_REGISTRY = {
    "serial": ("serial", "SerialBackend", IN_PROCESS),
    "threads": ("threads", "ThreadsBackend", IN_PROCESS),
    "thread-pool": ("thread_pool", "ThreadPoolBackend", IN_PROCESS),
    "process-pool": ("process_pool", "ProcessPoolBackend", PROCESSES),
    "shared-memory": ("shared_memory", "SharedMemoryBackend", PROCESSES),
    "interpreter-pool": ("interpreter_pool", "InterpreterPoolBackend", SUBINTERPRETERS),
    "interpreters": ("interpreters", "InterpretersBackend", SUBINTERPRETERS),
    "asyncio": ("asyncio_tasks", "AsyncioBackend", IN_PROCESS),
}
NAMES = tuple(_REGISTRY)
CHOICES = ("auto", *NAMES)
START_METHODS = ("spawn", "fork", "forkserver")  # for the backends that start processes


def _registered(name: str) -> tuple[str, str, Flags]:
    """Backend ``name``'s registration line; a ``ConfigError`` naming the choices if none."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}; choose from {', '.join(CHOICES)}")
    return _REGISTRY[name]


def backend_class(name: str) -> type[Backend]:
    module, cls, declared = _registered(name)
    backend: type[Backend] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    for flag, value in declared.items():
        setattr(backend, flag, value)  # the class answers as its registration line says
    return backend


def flags(name: str) -> Flags:
    """The capability flags of backend ``name`` (its module is not loaded)."""
    return _registered(name)[2]


def names_where(**wanted: bool) -> list[str]:
    """The backends whose flags have the ``wanted`` values, e.g. ``starts_processes=True``."""
    return [name for name in NAMES
            if all(getattr(flags(name), flag) == value for flag, value in wanted.items())]


def reaches_main(name: str) -> bool:
    """Workers of backend ``name`` can call a function defined in a script's ``__main__``
    (the script guarded by ``if __name__ == "__main__":``): in-process ones always, and
    subinterpreters on Python 3.14+, which run the script again in each worker."""
    declared = flags(name)
    if declared.in_process:
        return True
    if declared.subinterpreters:
        from mpi_lab.backends import _subinterpreters

        return _subinterpreters.runs_main_functions()
    return False


def default_start_method() -> str:
    """This Python's own default (forkserver on 3.14+ for POSIX; fork on Linux before, spawn
    on macOS and Windows), or the one the program set with ``multiprocessing.set_start_method``,
    but never fork once MPI has started in this process (forkserver then)."""
    import multiprocessing  # here: only runs that start processes pay for it

    methods = multiprocessing.get_all_start_methods()  # the first is the default
    method = multiprocessing.get_start_method(allow_none=True) or methods[0]
    if method == "fork" and _mpi_started():
        return "forkserver" if "forkserver" in methods else "spawn"
    return method


def start_method_note() -> str:
    """The default start method and where it comes from, in a line (for ``info``)."""
    import multiprocessing

    own = multiprocessing.get_all_start_methods()[0]
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    chosen = multiprocessing.get_start_method(allow_none=True)
    if chosen is not None and chosen != own:
        return f"{chosen} (set by this program; {version}'s own is {own})"
    if own == "fork":
        return f"fork ({version}'s own), forkserver inside an MPI rank (fork is unsafe there)"
    return f"{own} ({version}'s own)"


def subinterpreter_implementation() -> str:
    """Which subinterpreter API this Python uses (the standard library's, or the backport), in
    a line."""
    from mpi_lab.backends import _subinterpreters

    return _subinterpreters.implementation()


def _mpi_started() -> bool:
    """MPI is running in this process (mpi4py loaded it and initialised it)."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi is not None and bool(mpi.Is_initialized()) and not mpi.Is_finalized()


def available_start_methods() -> list[str]:
    """The start methods this platform has, its Python's default first."""
    import multiprocessing

    return list(multiprocessing.get_all_start_methods())


def check_start_method(method: str) -> str:
    """``method`` if this platform has it; a ``ConfigError`` naming what is wrong otherwise."""
    if method not in START_METHODS:
        raise ConfigError(f"unknown start method {method!r}; choose from {', '.join(START_METHODS)}")
    import multiprocessing  # here: only a run that names a start method pays for it

    if method not in multiprocessing.get_all_start_methods():
        raise ConfigError(f"start method {method!r} is not available on this platform")
    return method


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
    return names_where(in_process=True)


def resolve(name: str, numpy: bool, workers: int | None = None,
            start_method: str | None = None, *, in_main: bool = False,
            unguarded: bool = False, workload: str = "this workload") -> Choice:
    """Turn ``auto`` into the best backend here for the kernels (``numpy``: they import NumPy;
    ``in_main``: they live in ``__main__``, out of reach of other processes and interpreters;
    ``unguarded``: the script has no main guard, so worker processes would run it again)
    and ``workers``; check any other choice, and that a ``start_method`` has processes to
    start."""
    choice = _resolve(name, numpy, workers, in_main, unguarded, workload)
    if start_method is not None and not flags(choice.name).starts_processes:
        chosen = f"{choice.name} (chosen by auto)" if name == "auto" else repr(choice.name)
        raise ConfigError(
            f"--start-method applies to {' and '.join(names_where(starts_processes=True))};"
            f" backend {chosen} starts no processes"
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
            workers = "subinterpreters" if cls.subinterpreters else "workers"
            raise ConfigError(
                f"backend {name!r} runs {workers}, which cannot import NumPy (nor numba, built"
                f" on it), and the kernels of {workload} need it with these parameters; choose"
                f" another backend ({', '.join(names_where(runs_numpy=True))}), or a pure-Python"
                " kernel if the workload has one (--kernel python)"
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


def without_subinterpreters(why: str, *, numpy: bool, processes: bool = True,
                            in_main: bool = False) -> Choice:
    """What ``auto`` picks once the kernel proved unable to run in a subinterpreter (``why``,
    in a line): threads for NumPy (``numpy``: it is the module that failed; it releases the
    GIL) or for a kernel in ``__main__`` (``in_main``: processes cannot import it), else
    processes (``processes``: the script may start them)."""
    before = f"the kernel cannot run in a subinterpreter ({why}), so "
    if not gil_enabled():
        return Choice("thread-pool", f"{before}threads: this build runs Python in parallel", True)
    if numpy:
        return Choice("thread-pool", f"{before}threads: NumPy releases the GIL", True)
    if in_main:
        return Choice("thread-pool", f"{before}threads: worker processes cannot import a"
                      " function of __main__", True)
    return _pure_python_without_subinterpreters(not processes, before)


def create(name: str, workers: int, *, start_method: str | None = None) -> Backend:
    """A ready-to-enter backend; ``start_method`` applies to the process backends."""
    cls = backend_class(name)
    try:
        return cls(workers, start_method=start_method if cls.starts_processes else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
