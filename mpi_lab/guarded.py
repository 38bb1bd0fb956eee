"""The wrapper every worker runs kernels in: items come numbered, failures go back as text.

Imported inside each worker process and subinterpreter, so it imports next to nothing: a fresh
subinterpreter pays for every module again (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import sys

from mpi_lab.errors import KernelFailed

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing in every worker
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_REPR_CHARS = 60


def short_repr(item: Any) -> str:
    """``repr(item)``, cut to about a line's worth."""
    text = repr(item)
    return text if len(text) <= _REPR_CHARS else text[: _REPR_CHARS - 3] + "..."


class Guarded:
    """A kernel called with ``(index, item)``: its failures come back as ``KernelFailed``
    naming the item, with the worker's traceback as text.

    Exceptions raised in other processes or interpreters may not pickle, and their tracebacks
    do not travel; this wrapper turns both into text where the failure happened. ``paths``
    are folders the kernel's module is imported from, added to a worker's ``sys.path`` before
    the kernel is unpickled there (a subinterpreter, or a process, may not have them).
    """

    __slots__ = ("kernel", "paths", "slots")

    def __init__(self, kernel: Callable[..., Any], paths: tuple[str, ...] = (),
                 slots: dict[int, memoryview] | None = None) -> None:
        self.kernel = kernel
        self.paths = paths
        self.slots = slots  # in-process workers only: where each item's result goes

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if not self.paths:
            return Guarded, (self.kernel,)
        import pickle

        return _restore, (self.paths, pickle.dumps(self.kernel))

    def __repr__(self) -> str:
        return f"Guarded({self.kernel!r})"

    def __call__(self, task: tuple[int, Any]) -> Any:
        index, item = task
        try:
            if self.slots is None:
                return self.kernel(item)
            out = self.slots[index]
            self.kernel(item, out=out)
            return out
        except Exception as exc:
            import traceback  # only on failure: each module costs every subinterpreter

            raise KernelFailed(
                named(index, item), f"{type(exc).__name__}: {exc}", traceback.format_exc(),
            ) from None


def named(index: int, item: Any) -> str:
    """An item as failures name it: its place in the plan, and its repr."""
    return f"item {index} ({short_repr(item)})"


def fitted(result: Any, layout: tuple[str, int], index: int, item: Any) -> memoryview:
    """``result`` typed as ``layout`` says, or ``KernelFailed`` naming the item if it does
    not fit (checked in the worker where results go into shared memory, else on return)."""
    from mpi_lab.results import typed

    try:
        return typed(result, layout)
    except (TypeError, ValueError) as exc:
        raise KernelFailed(named(index, item),
                           f"its result does not fit its result_layout: {exc}") from None


def _restore(paths: tuple[str, ...], kernel: bytes) -> Guarded:
    """A ``Guarded`` rebuilt in a worker: its ``paths`` importable first, then its kernel."""
    import pickle

    for path in paths:
        if path not in sys.path:
            sys.path.append(path)
    return Guarded(pickle.loads(kernel), paths)


def probe(payload: bytes) -> str:
    """Unpickle ``payload`` (a guarded kernel and an item) here: "" if it loads, else why not,
    in a line. A worker that cannot unpickle its task may never report it (a subinterpreter
    pool waits for ever), so this asks first."""
    import pickle

    try:
        pickle.loads(payload)
    except BaseException as exc:  # noqa: BLE001 - whatever it is, it is the answer
        return f"{type(exc).__name__}: {one_line(str(exc))}"
    return ""


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
    import os

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
