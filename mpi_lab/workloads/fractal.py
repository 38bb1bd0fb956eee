"""The seed's Mandelbrot: its grid and iteration, cut into bands of rows."""

from __future__ import annotations

import functools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mpi_lab.workloads import complex_arith

if TYPE_CHECKING:
    import numpy as np

DEFAULT_HEIGHT = 4000
DEFAULT_WIDTH = 3000
DEFAULT_MAXITER = 20
# Points per band: a band's complex values and iterates (16 bytes each, twice) stay within L2.
BAND_POINTS = 65_536
_PIXEL_BYTES = 4  # int32


@dataclass(frozen=True)
class RowBand:
    """Rows ``start:stop`` of a ``height`` x ``width`` fractal with ``maxiter`` iterations.

    ``arith`` names NumPy's complex formulas on the coordinating machine; only the pure-Python
    kernel needs it (see ``complex_arith``).
    """

    start: int
    stop: int
    height: int
    width: int
    maxiter: int
    arith: str = "fma/scaled-fma"

    pixel_bytes: ClassVar[int] = _PIXEL_BYTES

    def __str__(self) -> str:
        return f"rows {self.start}-{self.stop - 1}"

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def result_nbytes(self) -> int:
        return self.rows * self.width * _PIXEL_BYTES

    @staticmethod
    def encode(rows: Any) -> memoryview:
        """A band's int32 pixels as bytes (NumPy array or ``array('i')``)."""
        return memoryview(rows).cast("B")

    @staticmethod
    def decode(raw: bytes | memoryview) -> bytes:
        return bytes(raw)


def grid_steps(height: int, width: int) -> tuple[float, float]:
    """The seed's ``ogrid`` spacing: imaginary -1..0 over rows, real -1.5..0 over columns.

    ``ogrid`` with ``n*1j`` computes ``start + k * (stop - start) / (n - 1)`` and, for n == 1,
    just ``start``; the same products and sums here give the same floats.
    """
    imag_step = 1.0 / (height - 1) if height > 1 else 1.0
    real_step = 1.5 / (width - 1) if width > 1 else 1.0
    return imag_step, real_step


@functools.cache
def numpy_arith() -> str:
    """NumPy's complex formulas on this machine, for the pure-Python kernel."""
    arith = complex_arith.detect_numpy_arith()
    if arith is None:
        raise ValueError(
            "the python fractal kernel cannot reproduce NumPy's complex arithmetic on this CPU;"
            " use --kernel numpy"
        )
    return arith


def plan_bands(
    height: int, width: int, maxiter: int, *, band_rows: int | None = None, arith: str = ""
) -> list[RowBand]:
    """Cut the rows into bands of about ``BAND_POINTS`` pixels (at least one row each)."""
    for name, value in (("height", height), ("width", width), ("maxiter", maxiter)):
        if value <= 0:
            raise ValueError(f"{name} must be greater than 0")
    rows = band_rows or max(1, BAND_POINTS // width)
    arith = arith or RowBand.arith
    return [
        RowBand(start, min(start + rows, height), height, width, maxiter, arith)
        for start in range(0, height, rows)
    ]


def band_grid(band: RowBand) -> np.ndarray:
    """The complex grid points of a band, C order, equal to the seed's ``prepare`` rows."""
    import numpy as np

    imag_step, real_step = grid_steps(band.height, band.width)
    c = np.empty((band.rows, band.width), dtype=np.complex128)
    c.real = np.arange(band.width) * real_step - 1.5
    c.imag = (np.arange(band.start, band.stop) * imag_step - 1.0)[:, None]
    return c


def numpy_kernel(band: RowBand) -> np.ndarray:
    """Escape counts of a band, iterating only points still inside.

    Once a point escapes the seed pins it at 2, from where it escapes again every step (|4 + c|
    > 2 on this grid), so its pixel is frozen at the last iteration it stayed inside. That lets
    escaped points leave the working set, which shrinks each step.
    """
    import numpy as np

    c = band_grid(band).ravel()
    pixels = np.empty(c.size, dtype=np.int32)
    z = c.copy()
    where = np.arange(c.size)
    magnitude = np.empty(c.size)
    for i in range(1, band.maxiter + 1):
        np.square(z, out=z)
        np.add(z, c, out=z)
        inside = np.abs(z, out=magnitude[: z.size]) <= 2.0
        still = int(np.count_nonzero(inside))
        if still < z.size:
            pixels[where[~inside]] = i - 1
            if still == 0:
                break
            where, z, c = where[inside], z[inside], c[inside]
    else:
        pixels[where] = band.maxiter
    return pixels.reshape(band.rows, band.width)


def python_kernel(band: RowBand) -> array:
    """Pure-Python escape counts (``array('i')``): the kernel subinterpreters can run."""
    square, magnitude = complex_arith.resolve(band.arith)
    imag_step, real_step = grid_steps(band.height, band.width)
    reals = [k * real_step - 1.5 for k in range(band.width)]
    maxiter = band.maxiter
    pixels = array("i")
    for row in range(band.start, band.stop):
        imag = row * imag_step - 1.0
        for real in reals:
            zr, zi = real, imag
            count = 0
            for i in range(1, maxiter + 1):
                zr, zi = square(zr, zi)
                zr += real
                zi += imag
                if magnitude(zr, zi) > 2.0:
                    break
                count = i
            pixels.append(count)
    return pixels


KERNELS = {"numpy": numpy_kernel, "python": python_kernel}


def stack_bands(bands: Sequence[RowBand], partials: Sequence[Any]) -> np.ndarray:
    """One rank's bands, concatenated in share order as one int32 array of rows."""
    import numpy as np

    width = bands[0].width if bands else 0
    rows = sum(band.rows for band in bands)
    stacked = np.empty((rows, width), dtype=np.int32)
    at = 0
    for band, partial in zip(bands, partials):
        stacked[at : at + band.rows] = np.frombuffer(partial, dtype=np.int32).reshape(
            band.rows, band.width
        )
        at += band.rows
    return stacked


def place_bands(
    height: int, width: int, shares: Sequence[Sequence[RowBand]], stacks: Sequence[Any]
) -> np.ndarray:
    """The whole fractal from each share's stacked rows, every band put back in place."""
    import numpy as np

    fractal = np.empty((height, width), dtype=np.int32)
    for bands, stack in zip(shares, stacks):
        rows = np.asarray(stack, dtype=np.int32).reshape(-1, width)
        at = 0
        for band in bands:
            fractal[band.start : band.stop] = rows[at : at + band.rows]
            at += band.rows
    return fractal
