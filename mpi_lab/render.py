"""Pictures: the fractal as a coloured PNG (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORMAP = "magma"  # perceptually uniform: equal steps in iterations look like equal steps


def save_png(pixels: Any, path: Path) -> None:
    """One image pixel per fractal pixel, coloured by iteration count."""
    from matplotlib import image

    image.imsave(path, pixels, cmap=COLORMAP, vmin=0, vmax=max(1, int(pixels.max())), format="png")
