"""Fractal: the exactness contract against the seed's algorithm, for every backend and kernel."""

from __future__ import annotations

import numpy as np
import pytest
from reference import fractal_job, seed_fractal

import mpi_lab
from mpi_lab import backends
from mpi_lab.workloads import complex_arith, fractal

# 300 iterations: pixels up to 300, sent between processes in two bytes, not one.
SIZES = [(1, 1, 20), (7, 5, 20), (257, 131, 50), (33, 29, 300)]


def test_grid_equals_seed_ogrid():
    for height, width in [(1, 1), (2, 9), (7, 5), (257, 131), (4000, 3000)]:
        seed_grid = np.sum(
            np.broadcast_arrays(*np.ogrid[-1j : 0j : height * 1j, -1.5 : 0 : width * 1j]), axis=0
        )
        band = fractal.RowBand(0, height, height, width, 1)
        assert np.array_equal(fractal.band_grid(band).view(np.float64), seed_grid.view(np.float64))


@pytest.mark.parametrize(("height", "width", "maxiter"), SIZES)
def test_numpy_kernel_matches_seed(numpy_backend_name: str, height: int, width: int, maxiter: int):
    job = fractal_job(height=height, width=width, maxiter=maxiter, kernel="numpy", band_rows=3)
    report = mpi_lab.run(job, backend=numpy_backend_name, workers=2, mpi=False)
    expected = seed_fractal(height, width, maxiter)
    assert report.answer.pixels.dtype == np.int32
    assert report.answer.pixels.shape == (height, width)
    assert np.array_equal(report.answer.pixels, expected)


@pytest.mark.parametrize(("height", "width", "maxiter"), SIZES)
def test_python_kernel_matches_seed(backend_name: str, height: int, width: int, maxiter: int):
    job = fractal_job(height=height, width=width, maxiter=maxiter, kernel="python", band_rows=40)
    report = mpi_lab.run(job, backend=backend_name, workers=2, mpi=False)
    assert np.array_equal(report.answer.pixels, seed_fractal(height, width, maxiter))


def test_height_smaller_than_workers(backend_name: str):
    kernel = "numpy" if backends.backend_class(backend_name).runs_numpy else "python"
    job = fractal_job(height=2, width=9, maxiter=30, kernel=kernel, band_rows=1)
    report = mpi_lab.run(job, backend=backend_name, workers=7, mpi=False)
    assert np.array_equal(report.answer.pixels, seed_fractal(2, 9, 30))


def test_json_fields_describe_the_array():
    report = mpi_lab.run(fractal_job(height=31, width=17, maxiter=20), backend="serial", workers=1, mpi=False)
    fields = report.to_dict()
    assert fields["checksum"] == int(seed_fractal(31, 17, 20).sum())
    import hashlib

    assert fields["sha256"] == hashlib.sha256(seed_fractal(31, 17, 20).tobytes()).hexdigest()


def test_sha256_reads_the_pixels_where_they_are():
    import hashlib
    import tracemalloc

    pixels = seed_fractal(600, 500, 20)
    tracemalloc.start()
    try:
        fields = fractal.describe(fractal.Answer(pixels))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < pixels.nbytes / 10  # the sum is buffered; nothing copies the image
    assert fields["sha256"] == hashlib.sha256(pixels.tobytes()).hexdigest()
    view = pixels[::-1, 1::2]  # not contiguous: hashed a few rows at a time, the same bytes
    assert fractal.sha256(view) == hashlib.sha256(view.tobytes()).hexdigest()


def _traced_peak(height: int, backend: str) -> int:
    """Peak bytes NumPy and Python allocate in this process for a run and its JSON."""
    import tracemalloc

    tracemalloc.start()
    try:
        # Full bands only: the worker's kernel workspace is the same at either height. One
        # worker: results come in order, none waits in the pool for an earlier one to be taken
        # (with more, up to ``ahead`` of them may).
        report = mpi_lab.run(fractal_job(height=height, width=1000, band_rows=20),
                             backend=backend, workers=1, mpi=False)
        report.to_dict()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backend", ["serial", "thread-pool", "process-pool", "shared-memory"])
def test_a_run_holds_its_image_once(backend: str):
    # The memory 2000 more rows cost, over their int32 pixels: what the workers and the run
    # need whatever the size cancels out; a copy of the image (or of the rows in their wire
    # type, held before they are placed) would add 1 (or 1/4).
    if not backends.availability(backend).available:
        pytest.skip(backends.availability(backend).reason)
    _traced_peak(200, backend)  # the main thread's kernel workspace is made once, here
    grown = _traced_peak(2200, backend) - _traced_peak(200, backend)
    assert grown / (2000 * 1000 * 4) < 1.1


@pytest.mark.parametrize("limit", [1, 5, 7, 100])
@pytest.mark.parametrize("extra", [0, 2])  # rounds another rank with more bytes needs
def test_gather_rounds_take_every_result_once_in_order(limit: int, extra: int):
    import itertools

    from mpi_lab.core.results import rounds

    sizes = [3, 0, 4, 4, 1, 9, 2, 0]
    count = -(-sum(sizes) // limit) + extra
    bounds = rounds(sizes, count, limit)
    assert len(bounds) == count + 1
    assert bounds[0] == 0
    assert bounds[-1] == len(sizes)
    assert bounds == sorted(bounds)
    for first, last in itertools.pairwise(bounds):
        assert sum(sizes[first:last]) < limit + max(sizes)


def test_python_arithmetic_matches_numpy_here():
    arith = complex_arith.detect_numpy_arith()
    assert arith is not None, "NumPy's complex formulas here are not reproduced by the python kernel"
    square, magnitude = complex_arith.resolve(arith)
    rng = np.random.default_rng(99)
    z = rng.uniform(-2.5, 2.5, 3000) + 1j * rng.uniform(-2.5, 2.5, 3000)
    for value, squared, size in zip(z.tolist(), (z**2).tolist(), np.abs(z).tolist(), strict=True):
        assert complex(*square(value.real, value.imag)) == squared
        assert magnitude(value.real, value.imag) == size


def test_exact_fma_fallback_rounds_once():
    # 1 + 2**-52 squared is 1 + 2**-51 + 2**-104: fma keeps the tail that a*a rounds away.
    a = 1.0 + 2.0**-52
    assert complex_arith._fma_exact(a, a, -1.0) == 2.0**-51 + 2.0**-104
    assert a * a - 1.0 == 2.0**-51
    rng = np.random.default_rng(5)
    fma = getattr(__import__("math"), "fma", None)
    if fma is not None:
        for x, y, w in rng.uniform(-3, 3, (500, 3)).tolist():
            assert complex_arith._fma_exact(x, y, w) == fma(x, y, w)


@pytest.mark.slow
def test_default_size_sum_and_array():
    expected = seed_fractal(4000, 3000, 20)
    assert int(expected.sum()) == 128_933_124
    report = mpi_lab.run(fractal_job(), backend="thread-pool", workers=2, mpi=False)
    assert np.array_equal(report.answer.pixels, expected)
    assert report.to_dict()["checksum"] == 128_933_124


def test_numpy_kernel_writes_into_out():
    band = fractal.plan_bands(37, 23, 30, band_rows=6)[2]
    out = np.full((band.rows, band.width), -1, dtype=np.int32)
    returned = fractal.numpy_kernel(band, out=out)
    assert np.shares_memory(returned, out)
    assert np.array_equal(out, seed_fractal(37, 23, 30)[band.start : band.stop])


@pytest.mark.parametrize("maxiter", [30, 300])
@pytest.mark.parametrize("kernel", ["numpy", "python"])
def test_a_band_fills_the_slot_its_layout_gives(kernel: str, maxiter: int):
    """What in-process workers do: the kernel writes into the typed slot of its layout."""
    from mpi_lab.core.results import typed

    band = fractal.plan_bands(37, 23, maxiter, band_rows=6, kernel=kernel)[3]
    typecode, count = fractal.result_layout(band)[:2]
    assert count == band.rows * band.width
    slot = memoryview(bytearray(count * np.dtype(typecode).itemsize)).cast(typecode)
    assert fractal.kernel(band, out=slot) is None
    expected = seed_fractal(37, 23, maxiter)[band.start : band.stop]
    assert np.array_equal(np.asarray(slot).reshape(band.rows, band.width), expected)
    # What other workers return, typed as the layout says, holds the same pixels.
    returned = typed(fractal.kernel(band), (typecode, count))
    assert np.array_equal(np.asarray(returned).reshape(band.rows, band.width), expected)


def test_numpy_kernel_returns_the_wire_type():
    band = fractal.plan_bands(37, 23, 300, band_rows=6)[2]
    pixels = fractal.numpy_kernel(band)
    assert pixels.dtype == np.uint16
    assert np.array_equal(pixels, seed_fractal(37, 23, 300)[band.start : band.stop])


@pytest.mark.parametrize(("maxiter", "dtype"), [(1, np.uint8), (255, np.uint8), (256, np.uint16),
                                                (65_535, np.uint16), (65_536, np.int32)])
def test_wire_dtype_is_the_narrowest_that_holds_maxiter(maxiter: int, dtype: type):
    assert fractal.wire_dtype(maxiter) == np.dtype(dtype)


# 300 iterations: points inside the set have pixel 300, which a one-byte wire would wrap.
@pytest.mark.parametrize("maxiter", [30, 300])
@pytest.mark.parametrize("kernel", ["numpy", "python"])
def test_combine_puts_bands_in_row_order_whatever_their_type(kernel: str, maxiter: int):
    from mpi_lab.core.results import results, typed

    height, width = 37, 23
    bands = fractal.plan_bands(height, width, maxiter, band_rows=4, kernel=kernel)
    views = [typed(fractal.kernel(band), fractal.result_layout(band)[:2]) for band in bands]
    answer = fractal.combine(results(views, views[0].format), height=height, width=width)
    assert answer.pixels.dtype == np.int32
    assert np.array_equal(answer.pixels, seed_fractal(height, width, maxiter))
