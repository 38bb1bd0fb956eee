"""What this Python and machine offer: build, GIL, MPI library, and every backend's status."""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict
from typing import Any

from mpi_lab import backends
from mpi_lab.core.machine import local_cores
from mpi_lab.workloads import compiled


def mpi_library_version() -> str | None:
    """The MPI library's version string, without starting MPI, or None if mpi4py cannot load it.

    ``rc.initialize = False`` keeps ``MPI_Init`` from running (a singleton Open MPI start leaves a
    16 MiB segment in /dev/shm behind); if MPI was already started by a launcher run, the already
    loaded module is used as is.
    """
    try:
        if "mpi4py.MPI" not in sys.modules:
            import mpi4py

            mpi4py.rc.initialize = False
            mpi4py.rc.finalize = False
        from mpi4py import MPI
    except Exception:  # no mpi4py, or no MPI library behind it
        return None
    return str(MPI.Get_library_version()).strip("\x00 \n").splitlines()[0]


def mpi_settings() -> dict[str, Any]:
    """The Open MPI parameters set for this environment: in which file or variable, and whether
    ``scripts/setup`` wrote them."""
    from mpi_lab.cluster import mca

    files = mca.wheel_files()
    return {
        "files": {name: str(path) for name, path in (files or {}).items()},
        "set": [asdict(found) for found in mca.current(files)],
    }


def collect() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "gil": backends.gil_enabled(),
        "free_threaded_build": bool(getattr(sys, "_is_gil_enabled", None))
        and "free-threading" in sys.version,
        "cores": local_cores(),
        "mpi": mpi_library_version(),
        # What mpi_lab asks MPI_Init_thread for: threads beside the main one call MPI to fail
        # fast, report progress and serve dynamic chunks; block and cyclic runs go on with
        # funneled if the library gives no more (then without failing fast).
        "mpi_thread_level": "multiple (funneled suffices for block and cyclic schedules)",
        "mpi_settings": mpi_settings(),
        "start_method": backends.start_method_note(),
        "start_methods": backends.available_start_methods(),
        "subinterpreters": backends.subinterpreter_implementation(),
        "compiled_kernels": compiled.describe(),
        "backends": [
            {"name": name, "available": status.available, "reason": status.reason}
            for name, status in ((name, backends.availability(name)) for name in backends.NAMES)
        ],
    }
