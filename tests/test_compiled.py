"""The compiled kernels (numba, ``nogil``): the fractal bit for bit the NumPy kernel's (the
seed's algorithm), π invariant, on every backend that can run them; refused with the reason
where they cannot (subinterpreters, no numba); numba's cache in the user's cache folder; and a
workload of one's own compiled the same way (``examples/compiled_primes``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reference import seed_fractal

import mpi_lab
from mpi_lab import backends, cli
from mpi_lab.core.errors import ConfigError
from mpi_lab.workloads import compiled

pytestmark = pytest.mark.skipif(bool(compiled.unavailable()), reason=compiled.unavailable()
                                or "numba is installed")

ROOT = Path(__file__).resolve().parent.parent
RUNS_IT = [name for name in backends.NAMES
           if backends.flags(name).runs_numpy and backends.availability(name).available]
SUBINTERPRETERS = [name for name in backends.names_where(subinterpreters=True)
                   if backends.availability(name).available]


def fractal(kernel: str, backend: str, workers: int = 2, **sizes: int) -> np.ndarray:
    params = {"height": 97, "width": 61, "maxiter": 60, "kernel": kernel, **sizes}
    report = mpi_lab.run("fractal", params=params, backend=backend, workers=workers, mpi=False)
    return report.answer.pixels


@pytest.mark.parametrize("backend", RUNS_IT)
def test_fractal_compiled_is_numpys_bit_for_bit(backend: str):
    pixels = fractal("compiled", backend)
    assert np.array_equal(pixels, fractal("numpy", "serial", 1))
    assert np.array_equal(pixels, seed_fractal(97, 61, 60))


@pytest.mark.slow
def test_fractal_compiled_at_the_seeds_size():
    report = mpi_lab.run("fractal", params={"kernel": "compiled"}, backend="thread-pool",
                         workers=2, mpi=False)
    numpy_report = mpi_lab.run("fractal", backend="serial", mpi=False)
    assert int(report.answer.pixels.sum()) == 128_933_124
    assert report.to_dict()["sha256"] == numpy_report.to_dict()["sha256"]


@pytest.mark.parametrize("backend", RUNS_IT)
@pytest.mark.parametrize("workers", [1, 2])
def test_pi_compiled_hits_depend_on_nothing_but_trials_seed_and_block(backend: str,
                                                                      workers: int):
    params = {"trials": 34_567, "seed": 5, "block_size": 1_000, "kernel": "compiled"}
    hits = mpi_lab.run("pi", params=params, backend=backend, workers=workers,
                       mpi=False).answer.hits
    assert hits == mpi_lab.run("pi", params=params, backend="serial", mpi=False).answer.hits
    other_seed = mpi_lab.run("pi", params={**params, "seed": 6}, backend="serial", mpi=False)
    assert other_seed.answer.hits != hits  # the seed matters: the draws are not fixed
    assert abs(4 * hits / 34_567 - np.pi) < 0.05


@pytest.mark.parametrize("workload", ["pi", "fractal"])
@pytest.mark.parametrize("backend", SUBINTERPRETERS)
def test_subinterpreters_refuse_the_compiled_kernel(capsys, workload: str, backend: str):
    code = cli.main([workload, "--kernel", "compiled", "--backend", backend, "--no-mpi"])
    assert code == 2
    assert "subinterpreters" in capsys.readouterr().err


def test_without_numba_the_kernel_is_unavailable_with_the_reason(monkeypatch):
    monkeypatch.setattr(compiled, "unavailable", lambda: "numba is not installed (test)")
    for workload in ("pi", "fractal"):
        with pytest.raises(ConfigError, match="kernel 'compiled' is not available here: numba"):
            mpi_lab.run(workload, params={"kernel": "compiled"}, backend="serial", mpi=False)


def test_auto_runs_the_compiled_kernel_on_threads():
    report = mpi_lab.run("pi", params={"trials": 20_000, "kernel": "compiled"}, workers=2,
                         mpi=False)
    assert backends.flags(report.backend).in_process


def run_cli(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(cache)
    return subprocess.run([sys.executable, "-m", "mpi_lab", *args, "--json", "--no-mpi"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_numba_compiles_into_the_users_cache_once(tmp_path: Path):
    """The first run compiles into $XDG_CACHE_HOME/mpi_lab/numba; the next, and worker
    processes, load from it: no file there is written again."""
    args = ["pi", "--trials", "20000", "--kernel", "compiled", "--backend", "process-pool",
            "--workers", "2"]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "mpi_lab" / "numba"
    written = {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}
    assert any(path.suffix == ".nbc" for path in written), written
    second = run_cli(args, tmp_path)
    assert second.returncode == 0, second.stderr
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*")
            if path.is_file()} == written
    fields = json.loads(second.stdout)
    assert fields["warm_up_seconds"] > 0 and fields["answer"] == json.loads(first.stdout)["answer"]


@pytest.mark.parametrize("backend", ["serial", "thread-pool", "process-pool"])
def test_a_workload_of_ones_own_compiled_with_numba(backend: str):
    import examples.compiled_primes as compiled_primes
    import examples.primes as primes

    report = mpi_lab.run("examples.compiled_primes", params={"limit": 60_000, "block": 7_000},
                         backend=backend, workers=2, mpi=False)
    assert report.answer == primes.combine([primes.kernel(block)
                                            for block in primes.plan(60_000, 7_000)])
    assert report.extra["warm_up_seconds"] > 0
    assert compiled_primes.needs_numpy
