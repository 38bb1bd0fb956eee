"""Injected faults, for the tests of failure handling: ``MPI_LAB_FAULT=MODE[@RANK]``.

MODE is ``raise`` (the kernel raises), ``exit`` (the process dies at once) or ``hang`` (the kernel
never returns); with ``@RANK`` only that MPI rank is affected, without it every rank. Unset, the
kernel runs unchanged. This lives in the package, not the tests, because workers in other
processes and subinterpreters must be able to import it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpi_lab.core import env

ENV = env.FAULT
MODES = ("raise", "exit", "hang")


class InjectedFault(RuntimeError):
    """The failure a ``raise`` fault produces."""


@dataclass(frozen=True)
class FaultyKernel:
    """A kernel that fails in the way ``mode`` says instead of computing."""

    kernel: Callable[[Any], Any]
    mode: str

    def __call__(self, item: Any, **_: Any) -> Any:
        if self.mode == "raise":
            raise InjectedFault(f"injected fault in {item}")
        if self.mode == "exit":
            os._exit(17)
        while True:  # hang
            time.sleep(1)


def parse(spec: str) -> tuple[str, int | None]:
    mode, _, rank = spec.partition("@")
    if mode not in MODES or (rank and not rank.isdigit()):
        raise ValueError(f"{ENV}={spec!r}: expected one of {', '.join(MODES)}, optionally @RANK")
    return mode, int(rank) if rank else None


def inject(kernel: Callable[[Any], Any], rank: int = 0) -> Callable[[Any], Any]:
    """``kernel``, or a faulty stand-in if ``MPI_LAB_FAULT`` asks for one on this rank."""
    spec = env.read(ENV)
    if not spec:
        return kernel
    mode, where = parse(spec)
    if where is not None and where != rank:
        return kernel
    return FaultyKernel(kernel, mode)
