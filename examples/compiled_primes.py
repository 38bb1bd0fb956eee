"""Count the primes below ``limit`` with a compiled kernel: ``numba.njit(nogil=True)`` releases
the GIL, so plain threads run the blocks in parallel on any Python.

    python -m mpi_lab run examples.compiled_primes --param limit=5_000_000 --backend thread-pool
    mpiexec -n 2 python -m mpi_lab run examples.compiled_primes

``examples/primes.py`` with its kernel's loop compiled (its plan and combine as they are), and
two optional hooks: ``needs_numpy`` (numba cannot load in a subinterpreter: those backends
refuse it, and ``auto`` picks threads) and ``warm_up`` (compile before the clock starts;
``cache=True`` keeps the machine code on disk, so worker processes and ranks load it instead of
compiling again). Needs numba (``pip install 'mpi_lab[compiled]'``; ``scripts/setup`` installs
it).
"""

from __future__ import annotations

import numba

from examples import primes

needs_numpy = True
default_schedule = "dynamic"


@numba.njit(nogil=True, cache=True)
def count_primes(start: int, stop: int) -> int:
    """How many of ``start..stop-1`` are prime (trial division by odd numbers)."""
    count = 0
    for n in range(max(start, 2), stop):
        if n % 2 == 0:
            count += n == 2
            continue
        divisor = 3
        while divisor * divisor <= n:
            if n % divisor == 0:
                break
            divisor += 2
        else:
            count += 1
    return count


def plan(limit: int = 2_000_000, block: int = 50_000) -> list[range]:
    """``examples.primes``' blocks, to a larger default (the compiled loop is faster)."""
    return primes.plan(limit, block)


def kernel(numbers: range) -> int:
    return int(count_primes(numbers.start, numbers.stop))  # numba takes ints, not a range


combine = primes.combine


def warm_up() -> None:
    """Compile (or load from the cache) before the run's clock starts."""
    count_primes(0, 10)


def show(answer: int, limit: int = 2_000_000) -> str:
    return f"{answer} primes below {limit} (compiled)"
