"""Scripts without ``if __name__ == "__main__":``, which worker processes would run again.

A worker started by spawn or forkserver (the default here) imports the script that started it,
as ``__mp_main__``, to find the functions it runs: whatever the script does at its top level it
does again in every worker, a call of ``mpi_lab.run`` included (a pool inside a pool, and under
``mpiexec`` a worker that joins MPI). Before a run starts worker processes, ``unguarded_call``
finds the top-level statement of the script that is running and whether a main guard holds it;
a worker that finds itself re-running the script (``in_reimport``) stops in one line.
"""

from __future__ import annotations

import ast
import sys
from types import FrameType

from mpi_lab import backends


def _main_frame() -> FrameType | None:
    """The frame of ``__main__``'s top-level code, if it is on the stack (a script running)."""
    main = sys.modules.get("__main__")
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and main is not None \
                and frame.f_globals is vars(main):
            return frame
        frame = frame.f_back
    return None


def _reimported(main: object) -> bool:
    """Worker processes (spawn, forkserver) import ``main`` again: a script, or a module run
    with ``-m`` that is not a package's ``__main__`` (CPython's ``spawn.prepare``)."""
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return not (spec.name == "__main__" or spec.name.endswith(".__main__"))
    return getattr(main, "__file__", None) is not None


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [side.id for side in sides if isinstance(side, ast.Name)]
    strings = [side.value for side in sides if isinstance(side, ast.Constant)]
    return names == ["__name__"] and strings == ["__main__"]


def unguarded_call(start_method: str | None) -> tuple[str, int] | None:
    """(script, line) of the top-level statement now running, when worker processes started
    with ``start_method`` (None: the default) would run it again: outside a main guard, in a
    script they re-import. None when there is nothing to fear (fork, a guard, a notebook, the
    lab's own command line, a source that cannot be read)."""
    if start_method == "fork":
        return None
    frame = _script_frame()
    if frame is None:
        return None
    if start_method is None and backends.default_start_method() == "fork":
        return None
    return _unguarded_line(frame)


def script_rerun() -> bool:
    """``__main__`` is a script (or module) that workers can run again to find its functions:
    not a notebook, the interactive prompt or ``-c``."""
    main = sys.modules.get("__main__")
    return main is not None and _reimported(main)


def unguarded_rerun() -> tuple[str, int] | None:
    """(script, line) of the top-level statement now running, when it is outside a main
    guard: a worker that runs the script again (a subinterpreter on 3.14+, to find a function
    of ``__main__``) would run it too."""
    frame = _script_frame()
    return None if frame is None else _unguarded_line(frame)


def _script_frame() -> FrameType | None:
    """The running script's top-level frame, if workers can run that script again."""
    frame = _main_frame()
    return frame if frame is not None and script_rerun() else None


def _unguarded_line(frame: FrameType) -> tuple[str, int] | None:
    path = frame.f_code.co_filename
    try:
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    for node in tree.body:
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            return None if _is_main_guard(node) else (path, line)
    return None


def advice(where: tuple[str, int], backend: str, workers: str = "starts worker processes") -> str:
    """The one line that says what is wrong and how to mend it (``workers``: what the backend
    does that runs the script again)."""
    path, line = where
    return (f"backend {backend!r} {workers}, which import {path} again and"
            f" would run its line {line} (mpi_lab.run) again, in every worker: put the code"
            " that runs under `if __name__ == \"__main__\":` (or choose an in-process backend)")


def in_reimport() -> bool:
    """This process is a worker importing the script again (its top level runs as
    ``__mp_main__``): it must not start a run of its own."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False
