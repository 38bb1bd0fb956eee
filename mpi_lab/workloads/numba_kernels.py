"""The numba loops behind ``compiled`` (imported only through it, which sets numba's cache
folder first). Each releases the GIL (``nogil``) and is cached on disk (``cache``)."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# Decided far from the circle |z| = 2, where rounding cannot flip it; near it, NumPy's formula.
SURELY_INSIDE = 2.0 - 1e-9  # |z| <= |re| + |im|
SURELY_OUTSIDE = 2.0 + 1e-9  # |z| >= max(|re|, |im|)


@intrinsic
def fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """``a*b + c`` rounded once (LLVM's ``llvm.fma``), as NumPy's complex loops compute it."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        double = ir.DoubleType()
        fn = builder.module.declare_intrinsic(
            "llvm.fma", [double], ir.FunctionType(double, [double, double, double]))
        return builder.call(fn, args)

    return signature, codegen


@numba.njit(nogil=True, cache=True)
def band(out: Any, start: int, stop: int, width: int, maxiter: int, imag_step: float,
         real_step: float, square_fma: bool, magnitude: int) -> None:
    """Escape counts of rows ``start..stop``: ``magnitude`` 0 scaled with FMA, 1 scaled,
    2 hypot (``complex_arith``)."""
    for row in range(start, stop):
        imag = row * imag_step - 1.0
        for k in range(width):
            real = k * real_step - 1.5
            zr, zi = real, imag
            count = 0
            for i in range(1, maxiter + 1):
                if square_fma:
                    zr, zi = fma(zr, zr, -(zi * zi)), 2.0 * zr * zi
                else:
                    zr, zi = zr * zr - zi * zi, zr * zi + zi * zr
                zr += real
                zi += imag
                a, b = abs(zr), abs(zi)
                if a + b <= SURELY_INSIDE:
                    count = i
                    continue
                if a > SURELY_OUTSIDE or b > SURELY_OUTSIDE:
                    break
                large, small = (a, b) if a >= b else (b, a)
                if magnitude == 2:
                    size = math.hypot(a, b)
                elif large == 0.0:
                    size = 0.0
                else:
                    ratio = small / large
                    size = large * math.sqrt(fma(ratio, ratio, 1.0) if magnitude == 0
                                             else 1.0 + ratio * ratio)
                if size > 2.0:
                    break
                count = i
            out[row - start, k] = count


@numba.njit(nogil=True, cache=True)
def pi_hits(seed32: int, n: int) -> int:
    """Hits of ``n`` points drawn uniformly in [-1, 1)², numba's generator (this thread's)
    seeded with ``seed32`` first. (numba compiles only NumPy's legacy random functions.)"""
    np.random.seed(seed32)  # noqa: NPY002
    hits = 0
    for _ in range(n):
        x = 2.0 * np.random.random() - 1.0  # noqa: NPY002
        y = 2.0 * np.random.random() - 1.0  # noqa: NPY002
        if x * x + y * y <= 1.0:
            hits += 1
    return hits
