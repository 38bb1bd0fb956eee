"""The loop each subinterpreter of the ``interpreters`` backend runs (no NumPy here)."""

from __future__ import annotations

from typing import Any


def serve(tasks: Any, results: Any) -> None:
    """Take ``(index, kernel, item)`` from ``tasks`` until ``None``; put ``(index, ok, value)``."""
    while (task := tasks.get()) is not None:
        index, kernel, item = task
        try:
            results.put((index, True, kernel(item)))
        except Exception as exc:
            results.put((index, False, exc))
