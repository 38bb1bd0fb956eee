"""Runs for the run-path tests: ``python -m mpi_lab`` or a script, alone or under ``mpiexec``,
timed, bounded, in a folder where the tests' ``wl_*`` modules import."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

from procs import scope_env

from mpi_lab.cluster import launcher

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
RUN_TIMEOUT = 90  # seconds: a run that has not ended by then hangs


@dataclasses.dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # start to end
    ended: float  # time.time() at the end

    @property
    def errors(self) -> list[str]:
        """The stderr lines that are our error lines."""
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]

    def describe(self) -> str:
        return (f"exit {self.returncode} after {self.seconds:.2f} s\nstdout: {self.stdout[-1500:]}"
                f"\nstderr: {self.stderr[-3000:]}")


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment, the tests' modules importable, no injected fault, and what mpiexec
    needs here (root's variables)."""
    made = {key: value for key, value in os.environ.items()
            if key not in ("MPI_LAB_FAULT", "MPI_LAB_MPI")}
    made["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS)])
    made.update(launcher.launcher_env(made))
    made.update(scope_env())
    made.update(extra or {})
    return made


def run(command: list[str], *, ranks: int | None = None, cwd: Path = TESTS,
        extra_env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT) -> Ran:
    """``command`` (after ``python``), alone or on ``ranks`` ranks, to its end."""
    full = [sys.executable, *command]
    if ranks is not None:
        full = [launcher.mpiexec_path(), "-n", str(ranks), *full]
    started = time.monotonic()
    done = subprocess.run(full, cwd=cwd, env=env(extra_env), capture_output=True, text=True,
                          timeout=timeout)
    return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started, time.time())


def lab(*args: str, ranks: int | None = None, **kwargs: object) -> Ran:
    """``python -m mpi_lab ARGS``."""
    return run(["-m", "mpi_lab", *args], ranks=ranks, **kwargs)  # type: ignore[arg-type]


def script(path: Path, text: str, *args: str, ranks: int | None = None,
           **kwargs: object) -> Ran:
    """``python PATH ARGS``, ``text`` written to ``path`` first."""
    path.write_text(text)
    return run([str(path), *args], ranks=ranks, cwd=path.parent, **kwargs)  # type: ignore[arg-type]
