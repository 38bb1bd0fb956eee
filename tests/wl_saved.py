"""A workload written by the tests with the hooks for parameters and files: the sum of the
squares below ``n``, counted in ``unit``s.

``parameters`` declares ``n`` and ``unit`` once: ``plan`` gives them no default of its own.
``quick_params`` is bench's small run; ``check_output`` takes ``.txt`` only and says the size;
``save`` writes the answer and the parameters it was made with.
"""

from __future__ import annotations

from pathlib import Path

from mpi_lab.workloads.contract import Param

parameters = (
    Param("n", 50, "Squares to add."),
    Param("unit", "one", "What the sum counts in.", choices=("one", "ten")),
)
quick_params = {"n": 5}
SIZE = 64  # bytes a saved answer takes at most


def plan(n: int, unit: str) -> list[int]:
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    if unit not in ("one", "ten"):
        raise ValueError(f"unit: {unit!r}; choose from one, ten")
    return list(range(n))


def kernel(item: int) -> int:
    return item * item


def combine(results: list[int], unit: str) -> int:
    return sum(results) // (10 if unit == "ten" else 1)


def check_output(path: Path) -> int:
    """Takes .txt files only."""
    if path.suffix != ".txt":
        raise ValueError("expected a .txt file")
    return SIZE


def save(answer: int, path: Path, n: int, unit: str) -> None:
    """Write the sum and what it was made of."""
    path.write_text(f"{answer} {unit}s of the squares below {n}\n")


def expected(n: int = 50, unit: str = "one") -> int:
    """The answer, worked out here."""
    return sum(i * i for i in range(n)) // (10 if unit == "ten" else 1)
