"""NumPy's complex ``z**2`` and ``abs(z)`` rewritten in pure Python, bit for bit.

NumPy picks its complex loops by CPU: with AVX-512 here, ``z**2`` is ``fma(a, a, -b*b)`` and
``abs(z)`` is a scaled hypot with an FMA inside, both differing from Python's own complex
arithmetic in about one result in three. The Mandelbrot iteration is chaotic, so a one-ulp
difference changes pixels. The pure-Python kernel therefore uses the formulas NumPy uses on this
machine, detected once in the main interpreter (where NumPy can be imported) and sent with the
work items. No NumPy import here: this module runs inside subinterpreters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Square = Callable[[float, float], tuple[float, float]]
Magnitude = Callable[[float, float], float]


def _fma_exact(a: float, b: float, c: float) -> float:
    """``a*b + c`` rounded once, for Pythons without ``math.fma`` (before 3.13).

    Floats are dyadic rationals, so the exact value is a ratio of integers, and CPython's
    int / int division is correctly rounded.
    """
    na, da = a.as_integer_ratio()
    nb, db = b.as_integer_ratio()
    nc, dc = c.as_integer_ratio()
    return (na * nb * dc + nc * da * db) / (da * db * dc)


fma: Callable[[float, float, float], float] = getattr(math, "fma", _fma_exact)


def square_fma(a: float, b: float) -> tuple[float, float]:
    return fma(a, a, -(b * b)), 2.0 * a * b


def square_plain(a: float, b: float) -> tuple[float, float]:
    return a * a - b * b, a * b + b * a


def magnitude_scaled_fma(a: float, b: float) -> float:
    a, b = abs(a), abs(b)
    large, small = (a, b) if a >= b else (b, a)
    if large == 0.0:
        return 0.0
    ratio = small / large
    return large * math.sqrt(fma(ratio, ratio, 1.0))


def magnitude_scaled(a: float, b: float) -> float:
    a, b = abs(a), abs(b)
    large, small = (a, b) if a >= b else (b, a)
    if large == 0.0:
        return 0.0
    ratio = small / large
    return large * math.sqrt(1.0 + ratio * ratio)


SQUARES: dict[str, Square] = {"fma": square_fma, "plain": square_plain}
MAGNITUDES: dict[str, Magnitude] = {
    "scaled-fma": magnitude_scaled_fma,
    "scaled": magnitude_scaled,
    "hypot": math.hypot,
}


def detect_numpy_arith() -> str | None:
    """Name the ``square/magnitude`` pair NumPy computes here, or None if none matches."""
    import numpy as np

    rng = np.random.default_rng(734)
    # Values like the iteration's: |z| up to a few, both signs, plus exact zeros and ties.
    z = (rng.uniform(-3.0, 3.0, 4096) + 1j * rng.uniform(-3.0, 3.0, 4096)).astype(np.complex128)
    z[:4] = [0j, 1 + 0j, 1j, 2 - 2j]
    squared = (z**2).tolist()
    magnitude = np.abs(z).tolist()
    values = [(v.real, v.imag) for v in z.tolist()]
    square_name = next(
        (name for name, f in SQUARES.items()
         if all(complex(*f(a, b)) == s for (a, b), s in zip(values, squared, strict=True))),
        None,
    )
    magnitude_name = next(
        (name for name, f in MAGNITUDES.items()
         if all(f(a, b) == m for (a, b), m in zip(values, magnitude, strict=True))),
        None,
    )
    if square_name is None or magnitude_name is None:
        return None
    return f"{square_name}/{magnitude_name}"


def resolve(arith: str) -> tuple[Square, Magnitude]:
    square_name, magnitude_name = arith.split("/")
    return SQUARES[square_name], MAGNITUDES[magnitude_name]
