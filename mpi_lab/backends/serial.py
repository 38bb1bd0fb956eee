"""Implements the serial backend: a plain loop, the reference for every other model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpi_lab.backends._base import Backend, Kernel


class SerialBackend(Backend):
    name = "serial"
    in_process = True
    summary = "plain loop in the main thread (the reference)"

    def map(self, kernel: Kernel, items: Sequence[Any]) -> list[Any]:
        return [kernel(item) for item in items]
