"""Implements the serial backend: a plain loop, the reference for every other model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpi_lab.backends._base import Backend, Done, Kernel, Layout, Place, no_progress


class SerialBackend(Backend):
    name = "serial"
    summary = "plain loop in the main thread (the reference)"

    def __init__(self, workers: int = 1, start_method: str | None = None) -> None:
        super().__init__(1)  # one worker, whatever was asked: the loop is the main thread

    def map(self, kernel: Kernel, items: Sequence[Any], done: Done = no_progress,
            layout: Layout | None = None, place: Place | None = None) -> list[Any]:
        results = []
        for item in items:
            result = kernel(item)
            results.append(result if place is None else place(item, result))
            done(1)
        return results
