"""A run's configuration, validated, and how its work is planned, merged and combined.

A job is what every coordinator (local or MPI) needs from a workload: ``plan()`` the work items,
the ``kernel`` to map over them, ``merge`` one rank's partial results into its part, and
``combine`` all parts into the answer on rank 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpi_lab.errors import ConfigError
from mpi_lab.workloads import fractal, pi

KERNEL_NAMES = ("python", "numpy")


def available_memory() -> int | None:
    """Bytes of memory available for new work here (``MemAvailable``), if the system says."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _positive(name: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0 (got {value})")


def _kernel_name(kernel: str) -> None:
    if kernel not in KERNEL_NAMES:
        raise ConfigError(f"unknown kernel {kernel!r}; choose from {', '.join(KERNEL_NAMES)}")


@dataclass(frozen=True)
class PiJob:
    """Monte Carlo π with ``trials`` draws."""

    trials: int = 10_000_000
    seed: int = 0
    kernel: str = "python"
    block_size: int = pi.DEFAULT_BLOCK_SIZE

    workload = "pi"
    default_schedule = "block"  # blocks cost the same: contiguous shares are balanced
    # Per-rank parts are hit counts: small Python ints, gathered by pickle.
    part_is_buffer = False
    wire_dtype = None

    def __post_init__(self) -> None:
        _positive("trials", self.trials)
        _positive("block size", self.block_size)
        if self.seed < 0:
            raise ConfigError(f"seed must be 0 or greater (got {self.seed})")
        _kernel_name(self.kernel)

    def preload(self) -> None:
        """Import what the kernel needs, so that start-up is not counted as compute time."""
        if self.kernel == "numpy":
            import numpy  # noqa: F401

    def check(self) -> None:
        """Nothing to check before computing: the plan is made as it goes, the answer is small."""

    def plan(self) -> Sequence[pi.PiBlock]:
        return pi.plan_blocks(self.trials, self.block_size, self.seed)

    @property
    def kernel_fn(self) -> Callable[[Any], Any]:
        return pi.KERNELS[self.kernel]

    def sink(self, items: Sequence[pi.PiBlock], *, whole: bool = False) -> None:
        """Hit counts are single integers: nothing to write in place."""

    def elements(self, part: int) -> int:
        """Hit counts travel by pickle, not as a buffer."""
        return 0

    def merge(
        self, items: Sequence[pi.PiBlock], partials: Sequence[int], *, whole: bool = False,
        sink: None = None,
    ) -> int:
        return sum(partials)

    def combine(self, shares: Sequence[Sequence[pi.PiBlock]], parts: Sequence[int]) -> PiAnswer:
        hits = sum(parts)
        return PiAnswer(hits=hits, estimate=pi.estimate(hits, self.trials))

    def describe(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "trials": self.trials,
            "seed": self.seed,
            "kernel": self.kernel,
            "block_size": self.block_size,
        }


@dataclass(frozen=True)
class PiAnswer:
    hits: int
    estimate: float

    def fields(self) -> dict[str, Any]:
        return {"hits": self.hits, "estimate": self.estimate}


@dataclass(frozen=True)
class FractalJob:
    """The seed's Mandelbrot at ``height`` x ``width`` with ``maxiter`` iterations."""

    height: int = fractal.DEFAULT_HEIGHT
    width: int = fractal.DEFAULT_WIDTH
    maxiter: int = fractal.DEFAULT_MAXITER
    kernel: str = "numpy"
    band_rows: int | None = None

    workload = "fractal"
    default_schedule = "cyclic"  # rows near the set cost more: deal them out
    # Per-rank parts are rows of pixels: gathered as buffers (Gatherv), not pickles.
    part_is_buffer = True

    def __post_init__(self) -> None:
        _positive("height", self.height)
        _positive("width", self.width)
        _positive("maxiter", self.maxiter)
        if self.band_rows is not None:
            _positive("band rows", self.band_rows)
        _kernel_name(self.kernel)

    def preload(self) -> None:
        """Import NumPy (kernel, merge and combine all use it) before the clock starts."""
        import numpy  # noqa: F401

    def answer_nbytes(self) -> int:
        """Bytes of the int32 answer (and of its .npy file, but for a short header)."""
        return self.height * self.width * 4

    def check(self) -> None:
        """Fail before computing if rank 0 cannot hold the answer: its int32 pixels, and the
        rows of the other ranks or workers as they arrive."""
        needed = self.answer_nbytes() + self.height * self.width * self.wire_dtype.itemsize
        available = available_memory()
        if available is not None and needed > available:
            from mpi_lab.output import gigabytes

            raise ConfigError(
                f"fractal {self.height}x{self.width} needs {gigabytes(needed)} of memory on"
                f" rank 0 (the int32 pixels, and the rows as they arrive); this machine has"
                f" {gigabytes(available)} available"
            )

    def plan(self) -> list[fractal.RowBand]:
        arith = ""
        if self.kernel == "python":
            try:
                arith = fractal.numpy_arith()
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        return fractal.plan_bands(
            self.height, self.width, self.maxiter, band_rows=self.band_rows, arith=arith
        )

    @property
    def kernel_fn(self) -> Callable[[Any], Any]:
        return fractal.KERNELS[self.kernel]

    def sink(self, items: Sequence[fractal.RowBand], *, whole: bool = False) -> fractal.BandSink:
        """A buffer for the share's rows that in-process workers fill directly; ``whole``: the
        whole fractal, with the share's bands at their rows."""
        return fractal.BandSink(items, self.kernel, (self.height, self.width) if whole else None)

    @property
    def wire_dtype(self) -> Any:
        """The NumPy type of the pixels a rank sends (see ``fractal.wire_dtype``)."""
        return fractal.wire_dtype(self.maxiter)

    def elements(self, part: Any) -> int:
        """Pixels a rank's part sends with ``Gatherv``: none if it stays on rank 0 (in
        place, or the bands' own arrays)."""
        return 0 if isinstance(part, fractal.Placed | list) else int(part.size)

    def merge(
        self, items: Sequence[fractal.RowBand], partials: Sequence[Any], *,
        whole: bool = False, sink: fractal.BandSink | None = None,
    ) -> Any:
        """The rank's rows as one ``wire_dtype`` buffer (for Gatherv), or, when the part stays
        here as the ``whole`` answer, the bands' own arrays: stacking them would copy the rows
        only to copy them again."""
        if sink is not None:
            return sink.part()  # already stacked, or in place
        return list(partials) if whole else fractal.stack_bands(items, partials)

    def combine(
        self, shares: Sequence[Sequence[fractal.RowBand]], parts: Sequence[Any]
    ) -> FractalAnswer:
        pixels = fractal.place_bands(self.height, self.width, shares, parts)
        return FractalAnswer(pixels)

    def describe(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "height": self.height,
            "width": self.width,
            "maxiter": self.maxiter,
            "kernel": self.kernel,
        }


@dataclass(frozen=True)
class FractalAnswer:
    pixels: Any = field(repr=False)  # int32 (height, width) NumPy array

    def fields(self) -> dict[str, Any]:
        import hashlib

        return {
            "checksum": int(self.pixels.sum(dtype="int64")),
            "sha256": hashlib.sha256(self.pixels.tobytes(order="C")).hexdigest(),
        }


Job = PiJob | FractalJob
