"""What each import inside a function of mpi_lab saves at start-up: run it to check that every
one still pays for itself.

    .venv/bin/python benchmarks/lazy_imports.py [--top N]

For every ``import`` inside a function (``TYPE_CHECKING`` blocks aside), the marginal cost of
importing that module in a fresh interpreter that has already imported the module holding the
import (its own imports done), best of 3, in milliseconds. An import that costs (almost)
nothing there, because the module is loaded already or is tiny, belongs at the top of its
module; the rest stay where they are and say why in a line. Machine speed drifts: compare rows
of one run only.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mpi_lab"
FREE_MS = 0.3  # below this an import saves nothing worth a line inside a function

PROBE = """
import sys, time
import {holder}
already = {target!r} in sys.modules
start = time.perf_counter()
import {target}
print(already, (time.perf_counter() - start) * 1000)
"""


def lazy_imports() -> list[tuple[str, int, str]]:
    """(holding module, line, imported module) of each import inside a function."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(node) for block in ast.walk(tree)
                       if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
                       for node in ast.walk(block)}
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        holder = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if id(node) in typing_only:
                    continue
                if isinstance(node, ast.Import):
                    found += [(holder, node.lineno, alias.name) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found += [(holder, node.lineno, _module(node.module, alias.name))
                              for alias in node.names]
    return sorted(set(found))


def _module(package: str, name: str) -> str:
    """``package.name`` if that is one of mpi_lab's modules (``from a import b``), else
    ``package``."""
    full = f"{package}.{name}"
    path = PACKAGE.parent / full.replace(".", "/")
    return full if path.with_suffix(".py").exists() or (path / "__init__.py").exists() else package


def cost(holder: str, target: str) -> tuple[bool, float]:
    """Whether ``target`` is loaded once ``holder`` is, and the best of 3 times to import it."""
    best, already = float("inf"), False
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", PROBE.format(holder=holder, target=target)],
                              capture_output=True, text=True, check=False, cwd=PACKAGE.parent)
        if done.returncode:
            return False, float("nan")  # not importable here (mpi4py's MPI without a launcher)
        loaded, ms = done.stdout.split()
        already, best = loaded == "True", min(best, float(ms))
    return already, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    rows = [(holder, line, target, *cost(holder, target))
            for holder, line, target in lazy_imports()]
    print(f"{'module:line':44s} {'imports':36s} {'ms':>6s}  verdict")
    for holder, line, target, already, ms in rows:
        verdict = ("loaded already: move to the top" if already
                   else "costs nothing: move to the top" if ms < FREE_MS else "keep lazy")
        print(f"{holder + ':' + str(line):44s} {target:36s} {ms:6.2f}  {verdict}")
    print(f"\n{len(rows)} imports inside functions;"
          f" {sum(1 for row in rows if row[3] or row[4] < FREE_MS)} would cost nothing at the top")
    return 0


if __name__ == "__main__":
    sys.exit(main())
