"""Fractal: the exactness contract against the seed's algorithm, for every backend and kernel."""

from __future__ import annotations

import numpy as np
import pytest
from reference import seed_fractal

from mpi_lab import backends
from mpi_lab.jobs import FractalJob
from mpi_lab.runner import run_local
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
    job = FractalJob(height=height, width=width, maxiter=maxiter, kernel="numpy", band_rows=3)
    report = run_local(job, numpy_backend_name, 2)
    expected = seed_fractal(height, width, maxiter)
    assert report.answer.pixels.dtype == np.int32
    assert report.answer.pixels.shape == (height, width)
    assert np.array_equal(report.answer.pixels, expected)


@pytest.mark.parametrize(("height", "width", "maxiter"), SIZES)
def test_python_kernel_matches_seed(backend_name: str, height: int, width: int, maxiter: int):
    job = FractalJob(height=height, width=width, maxiter=maxiter, kernel="python", band_rows=40)
    report = run_local(job, backend_name, 2)
    assert np.array_equal(report.answer.pixels, seed_fractal(height, width, maxiter))


def test_height_smaller_than_workers(backend_name: str):
    kernel = "numpy" if backends.backend_class(backend_name).runs_numpy else "python"
    job = FractalJob(height=2, width=9, maxiter=30, kernel=kernel, band_rows=1)
    report = run_local(job, backend_name, 7)
    assert np.array_equal(report.answer.pixels, seed_fractal(2, 9, 30))


def test_json_fields_describe_the_array():
    report = run_local(FractalJob(height=31, width=17, maxiter=20), "serial", 1)
    fields = report.to_dict()
    assert fields["checksum"] == int(seed_fractal(31, 17, 20).sum())
    import hashlib

    assert fields["sha256"] == hashlib.sha256(seed_fractal(31, 17, 20).tobytes()).hexdigest()


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
    report = run_local(FractalJob(), "thread-pool", 2)
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
def test_encoded_band_fills_its_slot_and_decodes_to_the_pixels(kernel: str, maxiter: int):
    band = fractal.plan_bands(37, 23, maxiter, band_rows=6)[3]
    result = fractal.KERNELS[kernel](band)
    encoded = band.encode(result)
    assert encoded.nbytes == band.result_nbytes == band.rows * band.width * (
        1 if maxiter < 256 else 2)
    decoded = fractal.band_pixels(band, band.decode(encoded))
    assert decoded.dtype == fractal.wire_dtype(maxiter)
    assert np.array_equal(decoded, seed_fractal(37, 23, maxiter)[band.start : band.stop])


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
def test_band_sink_stacks_a_share_or_places_it_in_the_whole(kernel: str, maxiter: int):
    height, width = 37, 23
    bands = fractal.plan_bands(height, width, maxiter, band_rows=4)
    share, rest = bands[1::2], bands[0::2]  # a cyclic share: not contiguous rows
    expected = seed_fractal(height, width, maxiter)

    stacked = fractal.BandSink(share, kernel)
    for band in reversed(share):  # workers finish in any order
        stacked(band)
    assert stacked.part().dtype == fractal.wire_dtype(maxiter)  # what the rank sends
    assert np.array_equal(stacked.part(), np.concatenate([expected[b.start : b.stop]
                                                          for b in share]))

    whole = fractal.BandSink(share, kernel, (height, width))
    for band in share:
        whole(band)
    placed = whole.part()
    assert isinstance(placed, fractal.Placed)
    rest_rows = fractal.stack_bands(rest, [fractal.numpy_kernel(b) for b in rest])
    assert rest_rows.dtype == fractal.wire_dtype(maxiter)
    result = fractal.place_bands(height, width, [share, rest], [placed, rest_rows])
    assert result is placed.pixels  # the other share was copied in, nothing else allocated
    assert result.dtype == np.int32
    assert np.array_equal(result, expected)
