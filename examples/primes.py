"""Count the primes below ``limit``: a pure-Python workload (it runs on every backend).

    python -m mpi_lab run examples.primes --param limit=2_000_000 --backend process-pool
    mpiexec -n 4 python -m mpi_lab run examples.primes --schedule dynamic

The three callables are the whole contract; ``default_schedule`` is an optional hook (larger
numbers cost more to test, so ranks take chunks as they go).
"""

from __future__ import annotations

default_schedule = "dynamic"


def plan(limit: int = 1_000_000, block: int = 50_000) -> list[range]:
    """The numbers below ``limit``, in blocks of ``block``."""
    if limit < 2:
        raise ValueError(f"limit must be at least 2 (got {limit})")
    if block < 1:
        raise ValueError(f"block must be at least 1 (got {block})")
    return [range(start, min(start + block, limit)) for start in range(0, limit, block)]


def kernel(numbers: range) -> int:
    """How many of ``numbers`` are prime (trial division by odd numbers)."""
    count = 0
    for n in numbers:
        if n < 2:
            continue
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


def combine(results: list[int]) -> int:
    """The primes of every block."""
    return sum(results)


def show(answer: int, limit: int = 1_000_000) -> str:
    """The count, in a line."""
    return f"{answer} primes below {limit}"
