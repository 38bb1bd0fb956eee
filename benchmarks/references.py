"""Reference implementations the speed targets are measured against: the seed's own code, and
the usual alternatives to mpi_lab's plumbing (a Pool, mpi4py.futures) around mpi_lab's kernel.

    python benchmarks/references.py seed-pi [TRIALS]        the seed's serial loop
    python benchmarks/references.py seed-fractal             the seed's prepare/run, whole array
    python benchmarks/references.py compiled-fractal         the seed's algorithm as a plain
                                                             numba loop (complex z, abs; compiled
                                                             before the clock)
    python benchmarks/references.py pool-pi [TRIALS]         multiprocessing.Pool(2), mpi_lab's blocks+kernel
    python benchmarks/references.py pool-pi-fork [TRIALS]    the same Pool with the fork start method
    python benchmarks/references.py numpy-pi [TRIALS]        a plain NumPy loop over 1M-sample chunks
    mpiexec -n 2 python benchmarks/references.py mpi-pi [TRIALS]
                                                             bare mpi4py: scatter, kernel, reduce
    mpiexec -n 3 python -m mpi4py.futures benchmarks/references.py futures-pi [TRIALS]
                                                             mpi4py.futures, 2 workers, same blocks

Each prints one JSON line: the compute seconds (timed inside the process) and the answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time

BLOCK = 100_000


def seed_pi(trials: int) -> dict:
    started = time.perf_counter()
    inside = 0
    for _ in range(trials):
        x = random.uniform(-1, 1)
        y = random.uniform(-1, 1)
        if x * x + y * y <= 1:
            inside += 1
    return {"seconds": time.perf_counter() - started, "estimate": 4.0 * inside / trials}


def seed_fractal(height: int = 4000, width: int = 3000, maxiter: int = 20) -> dict:
    # The seed's prepare/run as the tests write it (tests/reference.py), timed here. Imported
    # here, not at the top: the Pool's workers import this module and must stay as light.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from reference import seed_fractal as seed_run

    started = time.perf_counter()
    fractal = seed_run(height, width, maxiter)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "checksum": int(fractal.sum()),
            "sha256": hashlib.sha256(fractal.tobytes()).hexdigest()}


def compiled_fractal(height: int = 4000, width: int = 3000, maxiter: int = 20) -> dict:
    """The seed's algorithm (z = z**2 + c, pinned at 2 once escaped, the last iteration still
    inside) as the straightforward numba loop anyone would write: the compiled kernel's floor.
    Its pixels may differ from NumPy's in a few places (Python's complex arithmetic, not
    NumPy's), so it reports its checksum but is not compared on it."""
    import numba
    import numpy as np

    @numba.njit(nogil=True)
    def run(out: np.ndarray, maxiter: int) -> None:
        rows, cols = out.shape
        for j in range(rows):
            for k in range(cols):
                c = complex(k * (1.5 / cols) - 1.5, j * (1.0 / rows) - 1.0)
                z = c
                count = 0
                for i in range(1, maxiter + 1):
                    z = z * z + c
                    if abs(z) > 2.0:
                        break
                    count = i
                out[j, k] = count

    out = np.empty((height, width), dtype=np.int32)
    run(out[:1, :1], maxiter)  # compiled here, before the clock
    started = time.perf_counter()
    run(out, maxiter)
    return {"seconds": time.perf_counter() - started, "checksum": int(out.sum())}


def blocks(trials: int) -> list:
    """mpi_lab's own blocks (seed 0): the baselines map mpi_lab's own python kernel over them,
    so only the plumbing around the kernel is compared."""
    from mpi_lab.workloads import pi

    return pi.plan_blocks(trials, BLOCK, 0)


def pool_pi(trials: int, context: str = "forkserver") -> dict:
    """A Pool(2) over the blocks. forkserver is Python 3.14's default on Linux and mpi_lab's
    own; fork, 3.13's default, starts its workers faster (no server interpreter)."""
    import multiprocessing

    from mpi_lab.workloads import pi

    started = time.perf_counter()
    with multiprocessing.get_context(context).Pool(2) as pool:
        hits = sum(pool.map(pi.python_kernel, blocks(trials)))
    return {"seconds": time.perf_counter() - started, "hits": hits}


def pool_pi_fork(trials: int) -> dict:
    return pool_pi(trials, "fork")


def futures_pi(trials: int) -> dict:
    from mpi4py.futures import MPIPoolExecutor

    from mpi_lab.workloads import pi

    started = time.perf_counter()
    with MPIPoolExecutor() as pool:
        hits = sum(pool.map(pi.python_kernel, blocks(trials)))
    return {"seconds": time.perf_counter() - started, "hits": hits}


def mpi_pi(trials: int) -> dict | None:
    """The least an MPI program can do: scatter the blocks, run the kernel, reduce the counts.

    No CLI and no checks; only mpi_lab's TCP_NODELAY step, without which MPI_Finalize alone
    adds 42 ms here. It is the floor for any 2-rank mpiexec run of this work on this machine.
    """
    from mpi4py import MPI

    from mpi_lab.mpi.comm import _no_nagle
    from mpi_lab.workloads import pi

    _no_nagle()
    comm = MPI.COMM_WORLD
    started = time.perf_counter()
    shares = None
    if comm.rank == 0:
        items = blocks(trials)
        shares = [items[r::comm.size] for r in range(comm.size)]
    hits = comm.reduce(sum(map(pi.python_kernel, comm.scatter(shares))))
    return {"seconds": time.perf_counter() - started, "hits": hits} if comm.rank == 0 else None


def numpy_pi(trials: int) -> dict:
    import numpy as np

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    hits = 0
    for start in range(0, trials, 1 << 20):
        n = min(1 << 20, trials - start)
        xy = rng.uniform(-1.0, 1.0, size=(2, n))
        hits += int(np.count_nonzero(xy[0] ** 2 + xy[1] ** 2 <= 1.0))
    return {"seconds": time.perf_counter() - started, "hits": hits}


COMMANDS = {
    "seed-pi": seed_pi, "pool-pi": pool_pi, "pool-pi-fork": pool_pi_fork,
    "futures-pi": futures_pi, "mpi-pi": mpi_pi, "numpy-pi": numpy_pi,
}


def main(argv: list[str]) -> None:
    if argv[0] in ("seed-fractal", "compiled-fractal"):
        print(json.dumps(seed_fractal() if argv[0] == "seed-fractal" else compiled_fractal()))
        return
    trials = int(argv[1]) if len(argv) > 1 else 10_000_000
    result = COMMANDS[argv[0]](trials)
    if result is not None:  # MPI ranks other than 0 print nothing
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
