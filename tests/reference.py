"""Straightforward references the tests compare against: the seed's algorithms, unoptimised."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from mpi_lab.local.jobs import Job


def seed_fractal(height: int, width: int, maxiter: int) -> np.ndarray:
    """The seed's ``prepare`` and ``run``, as written there (grid by ``ogrid``, whole array)."""
    c = np.sum(
        np.broadcast_arrays(*np.ogrid[-1j : 0j : height * 1j, -1.5 : 0 : width * 1j]), axis=0
    )
    fractal = np.zeros_like(c, dtype=np.int32)
    z = c
    for i in range(1, maxiter + 1):
        z = z**2 + c
        diverge = abs(z) > 2
        z[diverge] = 2
        fractal[~diverge] = i
    return fractal


def pi_hits_python(trials: int, block_size: int, seed: int) -> int:
    """Hits of the python kernel, block by block with the seed's ``uniform(-1, 1)`` draws."""
    hits = 0
    for index, start in enumerate(range(0, trials, block_size)):
        rand = random.Random(seed << 64 | index)
        for _ in range(min(block_size, trials - start)):
            x = rand.uniform(-1, 1)
            y = rand.uniform(-1, 1)
            if x * x + y * y <= 1:
                hits += 1
    return hits


def pi_job(**params: Any) -> Job:
    """The built-in π workload with these parameters."""
    return Job.of("pi", params)


def fractal_job(**params: Any) -> Job:
    """The built-in fractal workload with these parameters."""
    return Job.of("fractal", params)
