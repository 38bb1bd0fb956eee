"""The wrapper every worker runs kernels in: items come numbered, failures go back as records.

Imported inside each worker process and subinterpreter, so it imports next to nothing: a fresh
subinterpreter pays for every module again (see benchmarks/RESULTS.md).

A result that must cross a boundary (to the parent process, out of a subinterpreter, to rank 0)
is made ready to travel here, in the worker, where a failure can still name its item: pickled
(``carry="pickle"``), or typed to its layout (``carry="typed"``: the bytes of ``count``
numbers of the layout's typecode, in the wire type where it has one). Whatever cannot travel
comes back as a ``KernelFailed`` naming the item, its index and the type that failed, never as
a pool that waits for ever or a raw pickling traceback.
"""

from __future__ import annotations

import os
import sys
from _thread import get_native_id  # built in: costs a subinterpreter nothing to import
from time import perf_counter

from mpi_lab.core.errors import KernelFailed, ending_behind
from mpi_lab.core.failures import Failure, failure_of, import_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing in every worker
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_REPR_CHARS = 60
CARRY_MODES = (None, "pickle", "typed")


def short_repr(item: Any) -> str:
    """``repr(item)``, cut to about a line's worth."""
    try:
        text = repr(item)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the failure
        text = f"<{type(item).__name__}>"
    return text if len(text) <= _REPR_CHARS else text[: _REPR_CHARS - 3] + "..."


class Guarded:
    """A kernel called with ``(index, item)``: its failures come back as ``KernelFailed``
    carrying a ``Failure`` that names the item, with the worker's traceback as text.

    Exceptions raised in other processes or interpreters may not pickle, and their tracebacks
    do not travel; this wrapper turns both into text where the failure happened. ``paths``
    are folders the kernel's module is imported from, added to a worker's ``sys.path`` before
    the kernel is unpickled there (a subinterpreter, or a process, may not have them).
    ``slots``: in-process workers only, where each item's result goes. ``carry``: how a result
    is made ready to travel (see the module's docstring); ``layout`` gives the typecode and
    count of an item's result for ``carry="typed"``.
    """

    __slots__ = ("carry", "kernel", "layout", "paths", "slots")

    def __init__(self, kernel: Callable[..., Any], paths: tuple[str, ...] = (),
                 slots: dict[int, memoryview] | None = None, carry: str | None = None,
                 layout: Callable[[Any], tuple[str, int]] | None = None) -> None:
        if carry not in CARRY_MODES or (carry == "typed" and layout is None):
            raise ValueError(f"carry={carry!r}: expected None, 'pickle', or 'typed' with a layout")
        self.kernel = kernel
        self.paths = paths
        self.slots = slots
        self.carry = carry
        self.layout = layout

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if not self.paths:
            return type(self), (self.kernel, (), None, self.carry, self.layout)
        import pickle

        return _restore, (self.paths, pickle.dumps((self.kernel, self.carry, self.layout)),
                          type(self) is Timed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kernel!r})"

    def __call__(self, task: tuple[int, Any]) -> Any:
        return self._carry(task, self._compute(task))

    def _compute(self, task: tuple[int, Any]) -> Any:
        """The kernel's result for ``task`` (or its slot, written in place)."""
        index, item = task
        try:
            if self.slots is None:
                return self.kernel(item)
            out = self.slots[index]
            self.kernel(item, out=out)
            return out
        except Exception as exc:
            ending = ending_behind(exc)  # the run ended inside the kernel, in this thread
            if ending is not None:
                raise ending from None
            import traceback  # only on failure: each module costs every subinterpreter

            raise KernelFailed(failure_of(exc, index=index, item=short_repr(item),
                                          traceback=traceback.format_exc())) from None

    def _carry(self, task: tuple[int, Any], result: Any) -> Any:
        """``result`` made ready to travel as ``carry`` says."""
        if self.carry == "pickle":
            return pickled(result, *task)
        if self.carry == "typed":
            return bytes(fitted(result, self.layout(task[1]), *task).cast("B"))  # type: ignore[misc]
        return result


class Timed(Guarded):
    """A ``Guarded`` kernel that also says when it ran (``--explain``, ``--timeline``): it
    returns ``(result, stamp)``, the stamp ``(index, worker, started, computed, ended)``:
    ``worker`` is (process id, thread id); the times are ``time.perf_counter``'s, one clock
    for every process of a host; ``computed`` to ``ended`` is the result made ready to travel.
    """

    __slots__ = ()

    def __call__(self, task: tuple[int, Any]) -> Any:
        started = perf_counter()
        result = self._compute(task)
        computed = perf_counter()
        carried = self._carry(task, result)
        return carried, (task[0], (os.getpid(), get_native_id()), started, computed,
                         perf_counter())


def pickled(result: Any, index: int, item: Any) -> bytes:
    """``result`` pickled, or ``KernelFailed`` naming the item and the part that does not
    pickle."""
    import pickle

    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - any failure to pickle is the answer
        raise KernelFailed(Failure(
            cause=f"{unpicklable_part(result)} cannot be pickled ({type(exc).__name__})",
            kinds=("PicklingError",), index=index, item=short_repr(item), stage="result",
        )) from None


def unpickled(data: bytes, index: int, item: Any) -> Any:
    """A result ``pickled`` made, loaded here, or ``KernelFailed`` naming the item."""
    import pickle

    try:
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - e.g. a class this process cannot import
        raise KernelFailed(Failure(
            cause=f"it cannot be unpickled here ({type(exc).__name__}: {one_line(str(exc))})",
            kinds=("UnpicklingError",), index=index, item=short_repr(item), stage="result",
        )) from None


def type_name(value: Any) -> str:
    """``a _thread.lock``, ``a function (kernel.<locals>.<lambda>)``: what ``value`` is."""
    cls = type(value)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    qualname = getattr(value, "__qualname__", None)
    if callable(value) and isinstance(qualname, str):
        return f"a {name} ({qualname})"
    return f"a {name}"


def unpicklable_part(value: Any, depth: int = 0) -> str:
    """The innermost part of ``value`` that does not pickle, by type (only asked after a
    failure: it pickles the parts again)."""
    import pickle

    if isinstance(value, dict):
        parts = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        parts = list(value)
    elif hasattr(value, "__dict__") and not callable(value):
        parts = list(vars(value).values())
    else:
        parts = []
    for part in parts:
        try:
            pickle.dumps(part)
        except Exception:  # noqa: BLE001 - found the culprit, or a part of it
            return unpicklable_part(part, depth + 1) if depth < 20 else type_name(part)
    return type_name(value)


def fitted(result: Any, layout: tuple[str, int], index: int, item: Any) -> memoryview:
    """``result`` typed as ``layout`` says, or ``KernelFailed`` naming the item if it does
    not fit (checked in the worker where results go into shared memory, else on return)."""
    from mpi_lab.core.results import typed

    try:
        return typed(result, layout)
    except (TypeError, ValueError) as exc:
        raise KernelFailed(Failure(
            cause=f"its result does not fit its result_layout: {exc}",
            kinds=(type(exc).__name__,), index=index, item=short_repr(item),
        )) from None


def _restore(paths: tuple[str, ...], state: bytes, timed: bool = False) -> Guarded:
    """A ``Guarded`` rebuilt in a worker: its ``paths`` importable first, then its kernel."""
    import pickle

    for path in paths:
        if path not in sys.path:
            sys.path.append(path)
    kernel, carry, layout = pickle.loads(state)
    return (Timed if timed else Guarded)(kernel, paths, None, carry, layout)


def probe(payload: bytes) -> tuple[str, str]:
    """Unpickle ``payload`` (a guarded kernel and an item) here: ("", "") if it loads, else why
    not, in a line, and the module an import error names. A worker that cannot unpickle its
    task may never report it (a subinterpreter pool waits for ever), so this asks first."""
    import pickle

    try:
        pickle.loads(payload)
    except BaseException as exc:  # noqa: BLE001 - whatever it is, it is the answer
        return f"{type(exc).__name__}: {one_line(str(exc))}", import_name(exc)
    return "", ""


def loads(_: Any) -> tuple[str, str]:
    """Nothing: its argument, a guarded kernel and an item, loaded in a worker to call it."""
    return "", ""


def one_line(text: str) -> str:
    """The line of an error message that says most: NumPy's import error, for one, opens
    with a banner and names the cause further down."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Original error was:"):
            return line.removeprefix("Original error was:").strip()[:200]
    return lines[0][:200] if lines else ""


def module_of(kernel: Callable[..., Any]) -> str:
    """The module a kernel comes from (through ``functools.partial`` wrappers)."""
    while callable(getattr(kernel, "func", None)):  # a partial: what it wraps
        kernel = kernel.func  # type: ignore[attr-defined]
    return str(getattr(kernel, "__module__", None) or type(kernel).__module__)


def import_paths(kernel: Callable[[Any], Any]) -> tuple[str, ...]:
    """The ``sys.path`` folders that hold the top package of ``kernel``'s module (none for
    the lab's own kernels, which every worker imports already)."""
    top = module_of(kernel).partition(".")[0]
    if top in ("mpi_lab", "__main__", "builtins"):
        return ()
    found = []
    for entry in sys.path:
        folder = os.path.abspath(entry or os.curdir)
        if (os.path.isfile(os.path.join(folder, top + ".py"))
                or os.path.isdir(os.path.join(folder, top))):
            found.append(folder)
    return tuple(found[:1])
