"""Where random walkers end up: a NumPy workload whose results are arrays.

    python -m mpi_lab run examples.random_walk --param walkers=200_000 --backend thread-pool
    mpiexec -n 2 python -m mpi_lab run examples.random_walk --json

Each item is a batch of walkers with its own seed; its result is the histogram of their final
positions. The optional hooks say that the kernel needs NumPy (subinterpreters cannot load
it), and the layout of a result, ``bins`` signed 64-bit counts: results then travel as
buffers (shared memory, ``Gatherv``), and a kernel that takes ``out`` writes its histogram
straight into the run's buffer when the workers are threads.
"""

from __future__ import annotations

from typing import Any, NamedTuple

needs_numpy = True


class Batch(NamedTuple):
    seed: int
    walkers: int
    steps: int
    bins: int


def plan(walkers: int = 100_000, steps: int = 1_000, batch: int = 5_000,
         bins: int = 41, seed: int = 0) -> list[Batch]:
    """Batches of ``batch`` walkers (the last takes the rest), each seeded by its place."""
    for name, value in (("walkers", walkers), ("steps", steps), ("batch", batch)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1 (got {value})")
    if bins < 1 or bins % 2 == 0:
        raise ValueError(f"bins must be odd, for a bin centred on 0 (got {bins})")
    return [Batch(seed * 1_000_003 + start, min(batch, walkers - start), steps, bins)
            for start in range(0, walkers, batch)]


def kernel(batch: Batch, out: Any = None) -> Any:
    """The histogram of the batch's final positions (a walker beyond the edges counts in the
    edge bins), in ``out`` if given."""
    import numpy as np

    rng = np.random.default_rng(batch.seed)
    # A walk of n steps of +-1 ends at 2k - n, k ~ Binomial(n, 1/2): binned by k, whole
    # numbers of k per bin (so that every inner bin holds as many possible ends), about
    # +-3 standard deviations over the bins.
    half = batch.bins // 2
    width = max(1, round(1.5 * batch.steps**0.5 / max(half, 1)))
    offset = rng.binomial(batch.steps, 0.5, size=batch.walkers) - batch.steps // 2
    where = np.clip((offset + width // 2) // width + half, 0, batch.bins - 1)
    counts = np.bincount(where, minlength=batch.bins)
    if out is None:
        return counts
    np.asarray(out)[:] = counts
    return None


def result_layout(batch: Batch) -> tuple[str, int]:
    """A batch's histogram: ``bins`` signed 64-bit counts."""
    return ("q", batch.bins)


def combine(results: list[Any], bins: int = 41) -> Any:
    """Every batch's histogram, summed."""
    import numpy as np

    total = np.zeros(bins, dtype=np.int64)
    for counts in results:
        total += np.asarray(counts)
    return total


def describe(answer: Any) -> dict[str, Any]:
    """The histogram and how many walkers it counts, in JSON."""
    return {"histogram": [int(count) for count in answer], "walkers": int(answer.sum())}


def show(answer: Any) -> str:
    """Where most walkers ended, in a line."""
    peak = int(answer.argmax()) - len(answer) // 2
    return f"{int(answer.sum())} walkers; the most end in bin {peak:+d}: {int(answer.max())}"
