"""What starting workers costs on the Python running this: a whole ``mpi_lab.run`` of two
trivial items on 2 workers of each backend (and each start method), less the same run on
``serial``; and, beneath the lab, the bare standard-library cost of one subinterpreter and of
a 2-process pool per start method. Prints one JSON object (median seconds of ``--repeats``).

    .venv/bin/python benchmarks/startup_costs.py [--repeats 7]

Also the workload it runs (``plan``, ``kernel``, ``combine``): two items that cost nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]


def plan(n: int = 2) -> list[int]:
    return list(range(n))


def kernel(item: int) -> int:
    return item


def combine(results: list[int]) -> int:
    return sum(results)


def median_seconds(action: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def lab_run(backend: str, start_method: str | None = None) -> Callable[[], Any]:
    import mpi_lab

    return lambda: mpi_lab.run("startup_costs", backend=backend, workers=2, mpi=False,
                               start_method=start_method)


def bare_subinterpreter() -> None:
    from mpi_lab.backends import _subinterpreters

    interp = _subinterpreters.interpreters_module().create()
    interp.exec("pass")
    interp.close()


def bare_process_pool(method: str) -> Callable[[], Any]:
    def start() -> None:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
            list(pool.map(abs, [1, 2]))
    return start


def measure(repeats: int) -> dict[str, Any]:
    from mpi_lab import backends

    serial = median_seconds(lab_run("serial"), repeats)
    lab: dict[str, float | str] = {}
    for name in backends.NAMES:
        if name == "serial":
            continue
        status = backends.availability(name)
        if not status.available:
            lab[name] = f"unavailable: {status.reason}"
            continue
        methods = backends.available_start_methods() if backends.flags(
            name).starts_processes else [None]
        for method in methods:
            label = name if method is None else f"{name} ({method})"
            lab[label] = median_seconds(lab_run(name, method), repeats) - serial
    bare: dict[str, float | str] = {}
    try:
        bare["one subinterpreter"] = median_seconds(bare_subinterpreter, repeats)
    except ImportError as exc:
        bare["one subinterpreter"] = f"unavailable: {exc}"
    for method in backends.available_start_methods():
        bare[f"process pool of 2 ({method})"] = median_seconds(bare_process_pool(method), repeats)
    return {"python": platform.python_version(), "repeats": repeats,
            "default_start_method": backends.default_start_method(),
            "subinterpreters": backends.subinterpreter_implementation(),
            "serial_run": serial, "lab_start": lab, "bare_start": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    print(json.dumps(measure(parser.parse_args().repeats)))


if __name__ == "__main__":
    main()
