"""The seed's Mandelbrot: its grid and iteration, cut into bands of rows."""

from __future__ import annotations

import contextlib

import functools
import threading
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mpi_lab.core.machine import available_memory, gigabytes
from mpi_lab.workloads import complex_arith
from mpi_lab.workloads.param import Param, defaults

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

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
    kernel: str = "numpy"

    def __str__(self) -> str:
        return f"rows {self.start}-{self.stop - 1}"

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def wire_typecode(self) -> str:
        return wire_typecode(self.maxiter)


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
    height: int, width: int, maxiter: int, *, band_rows: int | None = None, arith: str = "",
    kernel: str = "numpy",
) -> list[RowBand]:
    """Cut the rows into bands of about ``BAND_POINTS`` pixels (at least one row each)."""
    for name, value in (("height", height), ("width", width), ("maxiter", maxiter)):
        if value <= 0:
            raise ValueError(f"{name} must be greater than 0 (got {value})")
    rows = band_rows or max(1, BAND_POINTS // width)
    arith = arith or RowBand.arith
    return [
        RowBand(start, min(start + rows, height), height, width, maxiter, arith, kernel)
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
    several threads serialise in the kernel: reusing them lets the bands run in parallel.
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
            np.empty(size, dtype=np.int32),  # pixels, narrowed once at the end
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
    c, z, where, survived, magnitude, inside, wide = _scratch(size)
    total = size
    band_grid(band, out=c[:size].reshape(band.rows, band.width))
    np.copyto(z[:size], c[:size])
    where[:size] = np.arange(size, dtype=np.int32)
    survived[:size] = 0
    # Scattered writes go to int32 (as the counts are): scattering into a narrower type costs
    # a conversion per write; one pass narrows the band at the end.
    direct = out is not None and out.dtype == np.int32
    pixels = out.reshape(size) if direct else wide[:size]
    for _ in range(band.maxiter):
        zs, cs, counts = z[:size], c[:size], survived[:size]
        # z*z, not np.square: the same complex product bit for bit, but square holds the GIL.
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
    if out is None:
        out = np.empty(total, dtype=wire_dtype(band.maxiter))
    if not direct:
        np.copyto(out.reshape(total), pixels, casting="unsafe")  # pixels are 0..maxiter
    return out.reshape(band.rows, band.width)


def python_kernel(band: RowBand) -> array:
    """Pure-Python escape counts (``array('i')``): the kernel subinterpreters can run.

    int32, not the narrow wire type: converting in pure Python would cost a pass over the
    pixels in the worker (``result_layout`` says int32 for this kernel).
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


def compiled_kernel(band: RowBand, out: np.ndarray | None = None) -> np.ndarray:
    """The numba loop (``compiled``), the GIL released: NumPy's formulas, bit for bit; a new
    array of ``wire_dtype``, or ``out`` (the band's pixels, any integer type)."""
    import numpy as np

    from mpi_lab.workloads import compiled

    if out is None:
        out = np.empty(band.rows * band.width, dtype=wire_dtype(band.maxiter))
    pixels = out.reshape(band.rows, band.width)
    imag_step, real_step = grid_steps(band.height, band.width)
    compiled.fractal_band(pixels, band.start, band.stop, band.width, band.maxiter, imag_step,
                          real_step, band.arith)
    return pixels


KERNELS = {"numpy": numpy_kernel, "python": python_kernel, "compiled": compiled_kernel}
EXACT_ARITH = ("python", "compiled")  # kernels that follow NumPy's formulas, sent with the band
WARMED = EXACT_ARITH  # kernels with something to do before the clock (warm_up)


# The workload contract (``mpi_lab.workloads.contract``): the fractal is a built-in workload.

default_schedule = "cyclic"  # rows near the set cost more: deal them out

# The seed's sizes: the command line's options, plan's defaults and bench's full matrix.
parameters = (
    Param("height", 4000, "Rows (imaginary -1..0)."),
    Param("width", 3000, "Columns (real -1.5..0)."),
    Param("maxiter", 20, "Iterations of z**2 + c."),
    Param("kernel", "numpy", "NumPy bands (fast), pure-Python rows (subinterpreters), or"
          " compiled rows (numba; releases the GIL: threads scale).", choices=tuple(KERNELS)),
)
DEFAULTS = defaults(parameters)
quick_params = {"height": 1000, "width": 750}  # bench --quick


def plan(height: int = DEFAULTS["height"], width: int = DEFAULTS["width"],
         maxiter: int = DEFAULTS["maxiter"], kernel: str = DEFAULTS["kernel"],
         band_rows: int | None = None) -> list[RowBand]:
    """The bands of a ``height`` x ``width`` fractal; fails first if the answer cannot fit in
    this machine's memory (its int32 pixels, and the bands' results as they arrive)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose from {', '.join(KERNELS)}")
    if kernel == "compiled":
        from mpi_lab.workloads import compiled

        compiled.require()
    if band_rows is not None and band_rows <= 0:
        raise ValueError(f"band rows must be greater than 0 (got {band_rows})")
    if band_rows is None and kernel == "compiled":
        # Bands twice the size: each call's Python around the loop holds the GIL, so fewer.
        band_rows = max(1, 2 * BAND_POINTS // width)
    bands = plan_bands(height, width, maxiter, band_rows=band_rows,
                       arith=numpy_arith() if kernel in EXACT_ARITH else "", kernel=kernel)
    typecode, _, *wire = result_layout(bands[0])
    _check_memory(height, width, (wire or [typecode])[0])  # int32 here, the rest as sent
    return bands


def _check_memory(height: int, width: int, typecode: str) -> None:
    """Fail (ValueError: a bad input) if rank 0 cannot hold the answer and a result each."""
    needed = height * width * (4 + array(typecode).itemsize)
    available = available_memory()
    if available is not None and needed > available:

        raise ValueError(
            f"{height}x{width} needs {gigabytes(needed)} of memory on rank 0 (the int32 pixels,"
            f" and the rows as they arrive); this machine has {gigabytes(available)} available"
        )


def kernel(band: RowBand, out: memoryview | None = None) -> Any:
    """A band's escape counts, by the band's kernel; into ``out`` (its slot, as
    ``result_layout`` says) when the lab gives one."""
    if out is None:
        return KERNELS[band.kernel](band)
    if band.kernel in ("numpy", "compiled"):
        import numpy as np

        KERNELS[band.kernel](band, out=np.asarray(out))
    else:
        out[:] = memoryview(python_kernel(band))
    return None


def result_layout(band: RowBand) -> tuple[str, ...]:
    """A band's pixels: int32, as the answer (in place, nothing converted after); the NumPy
    kernel's travel to rank 0 in the narrowest type that holds 0..maxiter."""
    count = band.rows * band.width
    return ("i", count) if band.kernel == "python" else ("i", count, band.wire_typecode)


def needs_numpy(kernel: str = DEFAULTS["kernel"], **_: object) -> bool:
    """The NumPy and compiled kernels import NumPy (and numba), which cannot load in a
    subinterpreter; the python kernel runs there."""
    return kernel != "python"


def warm_up(kernel: str = DEFAULTS["kernel"], **_: object) -> bool:
    """Before the clock starts: find NumPy's complex formulas for the kernels that follow them,
    and compile the compiled kernel, or load it from numba's cache."""
    if kernel in EXACT_ARITH:
        with contextlib.suppress(ValueError):  # plan says it, as a bad input
            numpy_arith()
    if kernel == "compiled":
        from mpi_lab.workloads import compiled

        compiled.warm_up()
    return kernel in WARMED


def combine(results: list, height: int = DEFAULTS["height"],
            width: int = DEFAULTS["width"]) -> Answer:
    """The int32 fractal: every band's pixels, in plan order (row order), in one pass."""
    import numpy as np

    whole = getattr(results, "whole", None)  # every band in one buffer already
    if whole is not None:
        return Answer(np.asarray(whole).astype(np.int32, copy=False).reshape(height, width))
    pixels = np.empty((height, width), dtype=np.int32)
    if results:
        np.concatenate([np.asarray(result).reshape(-1) for result in results],
                       out=pixels.reshape(-1), casting="unsafe")  # pixels are 0..maxiter
    return Answer(pixels)


def describe(answer: Answer) -> dict[str, Any]:
    """The fractal in JSON: the sum of its pixels and the SHA-256 of its int32 bytes."""
    return {
        "checksum": int(answer.pixels.sum(dtype="int64")),  # cast in buffered chunks, no copy
        "sha256": sha256(answer.pixels),
    }


def sha256(pixels: np.ndarray) -> str:
    """The SHA-256 of ``pixels``' C-order bytes, read where they are: a copy of the image
    (``tobytes``) would double a run's peak memory."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    if pixels.flags.c_contiguous:
        digest.update(pixels)
    else:  # a view: copied a few rows at a time
        rows = max(1, BAND_POINTS // max(1, pixels[0].size)) if pixels.ndim > 1 else pixels.size
        for start in range(0, len(pixels), rows):
            digest.update(np.ascontiguousarray(pixels[start : start + rows]))
    return digest.hexdigest()


def show(answer: Answer, height: int = DEFAULTS["height"], width: int = DEFAULTS["width"],
         maxiter: int = DEFAULTS["maxiter"], kernel: str = DEFAULTS["kernel"],
         **_: object) -> str:
    """Size, iterations, sum and the start of the digest, in a line."""
    fields = describe(answer)
    return (f"fractal {height}x{width}, {maxiter} iterations: sum {fields['checksum']},"
            f" sha256 {fields['sha256'][:16]}… (kernel {kernel})")


SUFFIXES = (".npy", ".png")
COLORMAP = "magma"  # perceptually uniform: equal steps in iterations look like equal steps


def check_output(path: Path, height: int = DEFAULTS["height"],
                 width: int = DEFAULTS["width"]) -> int | None:
    """The bytes a file of the fractal needs (None: a PNG's, unknown); a ValueError if this
    path cannot be saved: its suffix, or a PNG without matplotlib."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unknown suffix; use {' or '.join(SUFFIXES)}")
    if suffix == ".png":
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ValueError("PNG output needs matplotlib: pip install 'mpi_lab[plot]'")
        return None
    return height * width * 4 + 128  # the int32 pixels and the .npy header


def save(answer: Answer, path: Path) -> None:
    """Save the array (.npy) or a coloured image (.png).

    ``path``'s suffix says which (``check_output`` has refused any other)."""
    if path.suffix.lower() == ".png":
        save_png(answer.pixels, path)
        return
    import numpy as np

    with path.open("wb") as stream:
        np.save(stream, answer.pixels)


def save_png(pixels: np.ndarray, path: Path) -> None:
    """One image pixel per fractal pixel, coloured by iteration count (matplotlib)."""
    from matplotlib import image

    image.imsave(path, pixels, cmap=COLORMAP, vmin=0, vmax=max(1, int(pixels.max())), format="png")


@dataclass(frozen=True)
class Answer:
    """The fractal: an int32 (height, width) NumPy array."""

    pixels: np.ndarray = field(repr=False)
