"""The built-ins' compiled kernels: numba ``njit(nogil=True)`` loops that release the GIL, so
plain threads run them in parallel on any Python.

The fractal's loop uses the complex formulas NumPy uses on this machine (``complex_arith``),
with an exact FMA (LLVM's ``llvm.fma``): its pixels equal the NumPy kernel's bit for bit. π
reseeds numba's generator (per thread) at each block, so hits depend only on trials, seed and
block size. The functions compile once per machine: numba's cache lives in the user's cache
folder (``NUMBA_CACHE_DIR``, else ``$XDG_CACHE_HOME/mpi_lab/numba``), never beside the installed
package, and every other process (worker or rank) loads them from it.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from mpi_lab.core import env

INSTALL_HINT = "pip install 'mpi_lab[compiled]' (numba), or run scripts/setup"

def cache_folder() -> str:
    """Where numba keeps the compiled kernels."""
    chosen = env.read(env.NUMBA_CACHE)
    if chosen:
        return chosen
    base = env.read(env.XDG_CACHE) or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mpi_lab", "numba")


@functools.cache  # once per process
def unavailable() -> str:
    """Why the compiled kernels cannot run here, or "" if they can."""
    env.set_default(env.NUMBA_CACHE, cache_folder())  # numba reads it as it loads
    try:
        import numba  # noqa: F401
    except ImportError as exc:
        return f"numba is not installed ({exc}); {INSTALL_HINT}"
    return ""


@functools.cache  # once per process
def _kernels() -> Any:
    unavailable()  # numba's cache folder set before it loads
    from mpi_lab.workloads import numba_kernels

    return numba_kernels


MAGNITUDES = {"scaled-fma": 0, "scaled": 1, "hypot": 2}


def fractal_band(out: Any, start: int, stop: int, width: int, maxiter: int, imag_step: float,
                 real_step: float, arith: str) -> None:
    """Escape counts of rows ``start..stop`` into ``out`` (a 2-D integer array)."""
    square, magnitude = arith.split("/")
    _kernels().band(out, start, stop, width, maxiter, imag_step, real_step, square == "fma",
                    MAGNITUDES[magnitude])


def pi_hits(seed: int, index: int, n: int) -> int:
    """Hits of ``n`` draws in the unit circle, from numba's generator seeded by (seed, index)."""
    return int(_kernels().pi_hits(_seed32(seed, index), n))


def _seed32(seed: int, index: int) -> int:
    """A 32-bit seed for block ``index`` of run ``seed`` (splitmix64's mixing of both)."""
    z = (seed * 0x9E3779B97F4A7C15 + index + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0xFFFFFFFF


def require() -> None:
    """A ``ValueError`` (a bad input) naming why the compiled kernels cannot run here, if so."""
    if why := unavailable():
        raise ValueError(f"kernel 'compiled' is not available here: {why}")


def describe() -> str:
    """numba's version and cache folder, or why the compiled kernels cannot run (for ``info``)."""
    why = unavailable()
    if why:
        return f"unavailable: {why}"
    import numba

    return f"numba {numba.__version__}, cache in {cache_folder()}"


def warm_up() -> float:
    """Compile the kernels, or load them from the cache: the seconds it took (none without
    numba: the plan says why, on rank 0, for every rank)."""
    if unavailable():
        return 0.0
    import numpy as np

    started = time.perf_counter()
    kernels = _kernels()
    for dtype in (np.int32, np.uint8):  # the lab's results, and their narrow wire type
        kernels.band(np.empty((1, 1), dtype=dtype), 0, 1, 1, 1, 1.0, 1.0, True, 0)
    kernels.pi_hits(1, 1)
    return time.perf_counter() - started
