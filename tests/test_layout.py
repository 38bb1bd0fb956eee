"""The package's layout is its architecture: imports run one way, from the CLI down.

Each module belongs to a room; a module imports only modules of its own room or of rooms below
it (at module level or inside functions alike), so no room depends on one above it and there is
no loop between rooms.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mpi_lab"

# Top to bottom, as the package docstring draws them.
ROOMS = ["cli", "bench", "api", "advice", "present", "mpi", "local", "backends", "workloads",
         "endings", "progress", "cluster", "core"]
API = {"mpi_lab", "mpi_lab.frame", "mpi_lab.options", "mpi_lab.info"}
TOP = {"mpi_lab.cli", "mpi_lab.__main__"}


def room(module: str) -> str:
    if module in TOP:
        return "cli"
    if module in API:
        return "api"
    name = module.split(".")[1]
    assert name in ROOMS, f"{module} is in no room: add it to the package docstring and ROOMS"
    return name


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(path: Path) -> set[str]:
    """Every mpi_lab module ``path`` imports, wherever the import is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("mpi_lab"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mpi_lab"):
            known = modules()
            for alias in node.names:  # ``from mpi_lab.x import y``: y may be a module
                full = f"{node.module}.{alias.name}"
                names.add(full if full in known else node.module)
    return names


ALL = modules()


@pytest.mark.parametrize("module", sorted(ALL))
def test_imports_run_downwards(module: str):
    here = ROOMS.index(room(module))
    upward = sorted(target for target in imported(ALL[module])
                    if target in ALL and ROOMS.index(room(target)) < here)
    assert not upward, f"{module} ({room(module)}) imports rooms above it: {upward}"


def test_no_two_module_names_differ_by_a_suffix():
    names = sorted({Path(path).stem.lstrip("_") for path in ALL.values()} - {"init", "main"})
    close = [(a, b) for a, b in itertools.combinations(names, 2)
             if b.startswith(a) and len(b) - len(a) <= 3]
    assert not close, close


def test_every_room_says_what_it_may_import():
    for name in ROOMS:
        init = PACKAGE / name / "__init__.py"
        if init.exists():
            docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
            assert "May import" in docstring, f"{name}/__init__.py does not say what it may import"
