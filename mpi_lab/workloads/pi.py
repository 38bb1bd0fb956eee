"""Monte Carlo π: trials cut into blocks, each seeded only by (seed, block index)."""

from __future__ import annotations

import random
from collections import namedtuple
from functools import partial
from itertools import repeat

from mpi_lab.core.lazyplan import LazyPlan
from mpi_lab.workloads.param import Param, defaults

KERNEL_NAMES = ("python", "numpy", "compiled")

# Every subinterpreter imports this module again: a named tuple, not a dataclass, and no
# ``typing``, keep each worker's start short.
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import NamedTuple

    class _BlockFields(NamedTuple):
        index: int
        trials: int
        seed: int
        kernel: str
else:
    _BlockFields = namedtuple("_BlockFields", ["index", "trials", "seed", "kernel"])


class PiBlock(_BlockFields):
    """Block ``index`` of a π run: ``trials`` draws from the generator of (seed, index), by
    the ``kernel`` of that name."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"block {self.index}"


def plan_blocks(trials: int, block_size: int, seed: int, kernel: str = "python") -> LazyPlan:
    """Cut ``trials`` into blocks of ``block_size``; the last block takes the remainder.

    The blocks are made as they are handed out: a plan of 10^9 blocks costs no memory.
    """
    if trials <= 0:
        raise ValueError(f"trials must be greater than 0 (got {trials})")
    if block_size <= 0:
        raise ValueError(f"block size must be greater than 0 (got {block_size})")
    if seed < 0:
        raise ValueError(f"seed must be 0 or greater (got {seed})")
    if kernel not in KERNEL_NAMES:
        raise ValueError(f"unknown kernel {kernel!r}; choose from {', '.join(KERNEL_NAMES)}")
    if kernel == "compiled":
        from mpi_lab.workloads import compiled

        compiled.require()
    count = -(-trials // block_size)
    return LazyPlan(partial(make_block, trials, block_size, seed, kernel), range(count))


def make_block(trials: int, block_size: int, seed: int, kernel: str, index: int) -> PiBlock:
    """Block ``index`` of a plan of ``trials``: full, or the remainder if it is the last."""
    return PiBlock(index, min(block_size, trials - index * block_size), seed, kernel)


def python_kernel(block: PiBlock) -> int:
    """The seed's loop: two ``uniform(-1, 1)`` draws, a hit when ``x*x + y*y <= 1``.

    ``uniform(-1, 1)`` is ``-1 + 2 * random()``; writing it out with a bound ``random`` gives the
    same floats, bit for bit, without two method look-ups per draw.
    """
    # seed << 64 | index: a distinct integer seed for every (seed, index) pair.
    draw = random.Random(block.seed << 64 | block.index).random
    hits = 0
    for _ in repeat(None, block.trials):  # no loop counter to create
        x = -1.0 + 2.0 * draw()
        y = -1.0 + 2.0 * draw()
        if x * x + y * y <= 1.0:
            hits += 1
    return hits


def numpy_kernel(block: PiBlock) -> int:
    """Vectorised draws from a ``numpy.random.Generator`` seeded by (seed, index)."""
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence(block.seed, spawn_key=(block.index,)))
    hits = 0
    # Chunks bound the memory of a large block.
    chunk = 1 << 20
    for start in range(0, block.trials, chunk):
        n = min(chunk, block.trials - start)
        # Points in the unit square against the quarter circle: the same odds as the seed's
        # square [-1, 1]^2 and circle, without scaling every draw.
        xy = rng.random((2, n))
        np.square(xy, out=xy)
        np.add(xy[0], xy[1], out=xy[0])
        hits += int(np.count_nonzero(xy[0] <= 1.0))
    return hits


def compiled_kernel(block: PiBlock) -> int:
    """The seed's loop compiled by numba (``compiled``), the GIL released: numba's generator
    seeded by (seed, index)."""
    from mpi_lab.workloads import compiled

    return compiled.pi_hits(block.seed, block.index, block.trials)


KERNELS = {"python": python_kernel, "numpy": numpy_kernel, "compiled": compiled_kernel}
WARMED = ("compiled",)  # kernels with something to do before the clock (warm_up)


def estimate(hits: int, trials: int) -> float:
    """π from the fraction of points inside the unit circle."""
    return 4.0 * hits / trials


# The workload contract (``mpi_lab.workloads.contract``): π is a built-in workload on it.

default_schedule = "block"  # blocks cost the same: contiguous shares are balanced

# The seed's sizes: the command line's options, plan's defaults and bench's full matrix.
parameters = (
    Param("trials", 10_000_000, "Random points to draw."),
    Param("seed", 0, "Seed; block k draws from the generator of (seed, k)."),
    Param("kernel", "python", "Pure-Python loop (the seed's), vectorised NumPy, or the loop"
          " compiled by numba (releases the GIL: threads scale).",
          choices=KERNEL_NAMES),
    Param("block_size", 100_000,
          "Trials per work item; hits depend on it, not on backend or workers."),
)
DEFAULTS = defaults(parameters)
quick_params = {"trials": 1_000_000}  # bench --quick


def plan(trials: int = DEFAULTS["trials"], seed: int = DEFAULTS["seed"],
         kernel: str = DEFAULTS["kernel"], block_size: int = DEFAULTS["block_size"]) -> LazyPlan:
    """The blocks of a run of ``trials`` draws."""
    return plan_blocks(trials, block_size, seed, kernel)


def kernel(block: PiBlock) -> int:
    """The hits of one block, by the block's kernel."""
    return KERNELS[block.kernel](block)


def result_layout(block: PiBlock) -> tuple[str, int]:
    """A block's hits: one signed 64-bit integer (a slot in shared memory)."""
    return ("q", 1)


def needs_numpy(kernel: str = DEFAULTS["kernel"], **_: object) -> bool:
    """The NumPy and compiled kernels import NumPy (and numba), which cannot load in a
    subinterpreter."""
    return kernel != "python"


def warm_up(kernel: str = DEFAULTS["kernel"], **_: object) -> bool:
    """Compile the compiled kernel, or load it from numba's cache, before the clock starts."""
    if kernel == "compiled":
        from mpi_lab.workloads import compiled

        compiled.warm_up()
    return kernel in WARMED


def combine(results: list, trials: int = DEFAULTS["trials"]) -> PiAnswer:
    """Total hits, and the estimate they give."""
    hits = sum(result[0] for result in results)
    return PiAnswer(hits, estimate(hits, trials))


def describe(answer: PiAnswer) -> dict:
    """The answer's fields in JSON."""
    return {"hits": answer.hits, "estimate": answer.estimate}


def show(answer: PiAnswer, trials: int = DEFAULTS["trials"], seed: int = DEFAULTS["seed"],
         kernel: str = DEFAULTS["kernel"], block_size: int = DEFAULTS["block_size"]) -> str:
    """The estimate, with what it was drawn from."""
    return (f"pi ~ {answer.estimate:.7f}  ({answer.hits} hits of {trials} trials; seed {seed},"
            f" kernel {kernel}, block size {block_size})")


class PiAnswer(namedtuple("PiAnswer", ["hits", "estimate"])):
    """The hits of every block, and π estimated from them."""

    __slots__ = ()
