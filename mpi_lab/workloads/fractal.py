"""The seed's Mandelbrot: its grid and iteration, cut into bands of rows."""

from __future__ import annotations

import functools
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mpi_lab.workloads import complex_arith

if TYPE_CHECKING:
    import numpy as np

DEFAULT_HEIGHT = 4000
DEFAULT_WIDTH = 3000
DEFAULT_MAXITER = 20
# Points per band: a band's complex values and iterates (16 bytes each, twice) stay within L2.
BAND_POINTS = 65_536


def wire_typecode(maxiter: int) -> str:
    """The narrowest ``array`` typecode that holds every pixel (0..maxiter): ``B``, ``H`` or ``i``.

    Rows travel in it between processes, ranks and hosts: at 20 iterations one byte a pixel
    instead of int32's four, so a quarter of the bytes to pickle, send and receive into fresh
    memory. Only the final fractal is int32 (the exactness contract).
    """
    return "B" if maxiter <= 0xFF else "H" if maxiter <= 0xFFFF else "i"


def wire_dtype(maxiter: int) -> np.dtype:
    """``wire_typecode`` as a NumPy type: uint8, uint16 or int32."""
    import numpy as np

    return np.dtype(wire_typecode(maxiter))


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

    def __str__(self) -> str:
        return f"rows {self.start}-{self.stop - 1}"

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def typecode(self) -> str:
        return wire_typecode(self.maxiter)

    @property
    def result_nbytes(self) -> int:
        return self.rows * self.width * array(self.typecode).itemsize

    def encode(self, rows: Any) -> memoryview:
        """A kernel's result (NumPy array or ``array``) as bytes of the wire type."""
        if isinstance(rows, array):  # the python kernel's int32
            narrow = rows if rows.typecode == self.typecode else array(self.typecode, rows)
            return memoryview(narrow).cast("B")
        return memoryview(rows.astype(self.typecode, copy=False)).cast("B")

    def decode(self, raw: bytes | memoryview) -> memoryview:
        """``encode``'s bytes, copied, as pixels of the wire type (``band_pixels`` reads them)."""
        return memoryview(bytes(raw)).cast(self.typecode)


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


def band_grid(band: RowBand, out: np.ndarray | None = None) -> np.ndarray:
    """The complex grid points of a band, C order, equal to the seed's ``prepare`` rows."""
    import numpy as np

    imag_step, real_step = grid_steps(band.height, band.width)
    c = np.empty((band.rows, band.width), dtype=np.complex128) if out is None else out
    c.real = np.arange(band.width) * real_step - 1.5
    c.imag = (np.arange(band.start, band.stop) * imag_step - 1.0)[:, None]
    return c


_workspace = threading.local()


def _scratch(size: int) -> tuple[np.ndarray, ...]:
    """This thread's working arrays for the NumPy kernel, grown as needed and then reused.

    Fresh arrays for every band cost a page fault per 4 KiB on first touch, and page faults of
    several threads serialise in the kernel: with new buffers per band, two threads scaled
    only 1.3x here; reusing them is what lets the bands run in parallel.
    """
    import numpy as np

    arrays = getattr(_workspace, "arrays", None)
    if arrays is None or arrays[0].size < size:
        arrays = (
            np.empty(size, dtype=np.complex128),  # c
            np.empty(size, dtype=np.complex128),  # z
            np.empty(size, dtype=np.int32),  # where: each point's place in the band
            np.empty(size, dtype=np.int32),  # survived: iterations still inside
            np.empty(size),  # magnitude
            np.empty(size, dtype=bool),  # inside
        )
        _workspace.arrays = arrays
    return arrays


# Drop escaped points from the working set once fewer than this share of it is still inside;
# above it, compacting (three gathers) costs more than iterating the escaped points along.
_COMPACT_BELOW = 0.75


def numpy_kernel(band: RowBand, out: np.ndarray | None = None) -> np.ndarray:
    """Escape counts of a band, iterating only points still inside (most of the time): a new
    array of ``wire_dtype``, or ``out`` (C-contiguous, the band's shape, any integer type).

    Once a point escapes, the seed pins it at 2, from where it escapes again at every step
    (|4 + c| > 2 everywhere on this grid). So a pixel, "the last iteration still inside", is
    the number of iterations it survived, and escaped points can leave the working set. They
    leave in batches: until enough have escaped they stay, pinned at 2 as in the seed, and
    their survival count stops growing. The working set is compacted into the front of the
    same buffers: fresh arrays at every step would cost a page fault per 4 KiB touched.
    """
    import numpy as np

    size = band.rows * band.width
    c, z, where, survived, magnitude, inside = _scratch(size)
    band_grid(band, out=c[:size].reshape(band.rows, band.width))
    np.copyto(z[:size], c[:size])
    where[:size] = np.arange(size, dtype=np.int32)
    survived[:size] = 0
    pixels = np.empty(size, dtype=wire_dtype(band.maxiter)) if out is None else out.reshape(size)
    for _ in range(band.maxiter):
        zs, cs, counts = z[:size], c[:size], survived[:size]
        # z*z, not np.square: the same SIMD complex product bit for bit (NumPy's square *is*
        # multiply(z, z)), but square held the GIL here: two threads scaled 1.36x, not 1.9x.
        np.multiply(zs, zs, out=zs)
        np.add(zs, cs, out=zs)
        np.abs(zs, out=magnitude[:size])
        ins = np.less_equal(magnitude[:size], 2.0, out=inside[:size])
        np.add(counts, ins, out=counts)
        still = int(np.count_nonzero(ins))
        if still == size:
            continue
        if still == 0:
            break
        if still < _COMPACT_BELOW * size:
            places = where[:size]
            pixels[places[~ins]] = counts[~ins]
            where[:still], z[:still] = places[ins], zs[ins]
            c[:still], survived[:still] = cs[ins], counts[ins]
            size = still
        else:
            np.copyto(zs, 2.0, where=~ins)
    pixels[where[:size]] = survived[:size]
    return pixels.reshape(band.rows, band.width)


def python_kernel(band: RowBand) -> array:
    """Pure-Python escape counts (``array('i')``): the kernel subinterpreters can run.

    int32, not the narrow wire type: converting in pure Python would cost a pass over the
    pixels in the worker; ``RowBand.encode`` narrows them where a fixed slot needs it.
    """
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


@dataclass(frozen=True)
class Placed:
    """A whole-fractal array in which a share's bands already sit at their rows."""

    pixels: np.ndarray


class BandSink:
    """One buffer for a share's bands, which kernels running in this process write into
    directly: back to back in share order (a rank's part for ``Gatherv``, in ``wire_dtype``),
    or, with ``whole=(height, width)``, each at its rows of the int32 whole fractal (rank 0, or
    a run without MPI, where nothing is copied afterwards).

    Without it every band returns its own array, and the rows are copied once more into the
    rank's buffer or the final fractal: 48 MB of fresh memory and a 48 MB copy per run, whose
    page faults were the largest serial cost left in a two-thread run.
    """

    def __init__(
        self, bands: Sequence[RowBand], kernel: str, whole: tuple[int, int] | None = None
    ) -> None:
        import numpy as np

        self.kernel = kernel
        self.whole = whole
        self.width = whole[1] if whole else bands[0].width if bands else 0
        self._offsets: dict[RowBand, int] = {}
        at = 0
        for band in bands:
            self._offsets[band] = band.start * band.width if whole else at
            at += band.rows * band.width
        if whole:
            self.buffer = np.empty(whole[0] * whole[1], dtype=np.int32)
        else:
            self.buffer = np.empty(at, dtype=wire_dtype(bands[0].maxiter) if bands else np.int32)

    def view(self, band: RowBand) -> np.ndarray:
        """The band's rows in the buffer."""
        at = self._offsets[band]
        return self.buffer[at : at + band.rows * band.width].reshape(band.rows, band.width)

    def __call__(self, band: RowBand) -> None:
        """Compute ``band`` into its place (the kernel for in-process backends)."""
        if self.kernel == "numpy":
            numpy_kernel(band, out=self.view(band))
        else:
            self.view(band)[:] = band_pixels(band, python_kernel(band))

    def part(self) -> np.ndarray | Placed:
        """The share's rows as ``stack_bands`` would return them, or the whole fractal."""
        if self.whole:
            return Placed(self.buffer.reshape(self.whole))
        return self.buffer.reshape(-1, self.width) if self.width else self.buffer.reshape(0, 0)


def band_pixels(band: RowBand, partial: Any) -> np.ndarray:
    """A kernel's result for ``band`` as a (rows, width) array, not copied: NumPy arrays and
    typed buffers (``array``, ``RowBand.decode``'s) keep their type."""
    import numpy as np

    return np.asarray(partial).reshape(band.rows, band.width)


def stack_bands(bands: Sequence[RowBand], partials: Sequence[Any]) -> np.ndarray:
    """One rank's bands, concatenated in share order as one ``wire_dtype`` array of rows."""
    import numpy as np

    if not bands:
        return np.empty((0, 0), dtype=np.int32)
    return np.concatenate(
        [band_pixels(band, partial) for band, partial in zip(bands, partials, strict=True)],
        dtype=wire_dtype(bands[0].maxiter), casting="unsafe",  # pixels are 0..maxiter
    )


def _in_order(bands: Sequence[RowBand], height: int) -> bool:
    """The bands follow one another from row 0 to the last row."""
    at = 0
    for band in bands:
        if band.start != at:
            return False
        at = band.stop
    return at == height


def place_bands(
    height: int, width: int, shares: Sequence[Sequence[RowBand]], stacks: Sequence[Any]
) -> np.ndarray:
    """The whole fractal from each share's stacked rows, every band put back in place."""
    import numpy as np

    placed = [stack.pixels for stack in stacks if isinstance(stack, Placed)]
    if placed:
        fractal = placed[0]  # one share's bands are in place already: add the others'
    elif len(shares) == 1 and not isinstance(stacks[0], list) and _in_order(shares[0], height):
        # One share with every band in order: already the whole fractal.
        return np.asarray(stacks[0], dtype=np.int32).reshape(height, width)
    else:
        fractal = np.empty((height, width), dtype=np.int32)
    for bands, stack in zip(shares, stacks, strict=True):
        if isinstance(stack, Placed):
            continue
        if isinstance(stack, list):  # one array per band (a run without MPI)
            for band, partial in zip(bands, stack, strict=True):
                fractal[band.start : band.stop] = band_pixels(band, partial)
            continue
        rows = np.asarray(stack).reshape(-1, width)  # int32, or the narrower wire type
        at = 0
        for band in bands:
            fractal[band.start : band.stop] = rows[at : at + band.rows]
            at += band.rows
    return fractal
