"""How good ``advise`` is: for each workload, its advice against every point measured.

Per workload: ``mpi_lab.advise`` (calibration and predictions), then ``mpi_lab.run`` of every
available backend x worker count on one process (serial once), ``--repeats`` times each in
turn, median wall seconds of the call kept (what ``--verify`` measures). Reports the
recommended point, the best measured one, their ratio (goal <= 1.15), and predicted/measured
for every point (goal within 1.5x). Prints a Markdown table, and JSON with ``--json FILE``.

    .venv/bin/python benchmarks/advice.py [--repeats 3] [--only NAME,...] [--json FILE]

Ranks are not measured here (one process per point, in this process): the ranks' part of
the model is checked by ``advise --ranks N --verify``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import mpi_lab

TESTS = HERE.parent / "tests"
# name -> (SPEC, params): sizes where a point takes about 0.3 s or more, serial about 1 s.
WORKLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "pi": ("pi", {"trials": 8_000_000}),
    "fractal": ("fractal", {}),
    "fractal[python]": ("fractal", {"height": 600, "width": 450, "kernel": "python",
                                    "band_rows": 15}),
    "examples.primes": ("examples.primes", {"limit": 600_000}),
    "examples.random_walk": ("examples.random_walk", {"walkers": 4_000_000}),
    "wl_advice_cpu": (str(TESTS / "wl_advice_cpu.py"), {}),
    "wl_advice_sleep": (str(TESTS / "wl_advice_sleep.py"), {"items": 60}),
    "wl_advice_tiny": (str(TESTS / "wl_advice_tiny.py"), {"items": 20_000}),
    "wl_advice_large": (str(TESTS / "wl_advice_large.py"), {"loops": 100_000}),
    "wl_advice_uneven": (str(TESTS / "wl_advice_uneven.py"), {"items": 200}),
}


def measure(spec: str, params: dict[str, Any], points: list[tuple[str, int]],
            repeats: int) -> dict[tuple[str, int], float]:
    """Median wall seconds of ``mpi_lab.run`` per point, the points taken in turn."""
    samples: dict[tuple[str, int], list[float]] = {point: [] for point in points}
    for _ in range(repeats):
        for backend, workers in points:
            started = time.perf_counter()
            mpi_lab.run(spec, params=params, backend=backend, workers=workers, mpi=False)
            samples[backend, workers].append(time.perf_counter() - started)
    return {point: statistics.median(found) for point, found in samples.items()}


def one(name: str, spec: str, params: dict[str, Any], repeats: int) -> dict[str, Any]:
    advice = mpi_lab.advise(spec, params=params)
    local = [p for p in advice.predictions if p.ranks == 1]
    predicted = {(p.backend, p.workers): p.seconds for p in local}
    measured = measure(spec, params, list(predicted), repeats)
    best = min(measured, key=measured.__getitem__)
    chosen = (advice.recommendation.backend, advice.recommendation.workers)
    ratios = {point: predicted[point] / seconds for point, seconds in measured.items()}
    return {
        "workload": name, "params": params,
        "recommended": f"{chosen[0]} x{chosen[1]}", "reason": advice.reason,
        "recommended_measured": measured[chosen],
        "best": f"{best[0]} x{best[1]}", "best_measured": measured[best],
        "ratio": measured[chosen] / measured[best],
        "predicted_over_measured": {f"{b} x{w}": r for (b, w), r in ratios.items()},
        "within_1_5": sum(1 / 1.5 <= r <= 1.5 for r in ratios.values()),
        "points": len(ratios),
        "calibration_seconds": advice.calibration.seconds,
        "serial_measured": measured.get(("serial", 1)),
    }


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [("| workload | recommended | best measured | ratio | predicted/measured:"
              " median (range) | points within 1.5x | calibration s |"),
             "|---|---|---|---:|---|---:|---:|"]
    for row in rows:
        found = list(row["predicted_over_measured"].values())
        lines.append(
            f"| {row['workload']} | {row['recommended']} ({row['recommended_measured']:.3f} s)"
            f" | {row['best']} ({row['best_measured']:.3f} s) | {row['ratio']:.2f}"
            f" | {statistics.median(found):.2f} ({min(found):.2f}-{max(found):.2f})"
            f" | {row['within_1_5']}/{row['points']} | {row['calibration_seconds']:.3f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    started = time.perf_counter()
    rows = []
    for name in names:
        spec, params = WORKLOADS[name]
        rows.append(one(name, spec, params, args.repeats))
        print(f"{name}: {rows[-1]['recommended']} / best {rows[-1]['best']}"
              f" ratio {rows[-1]['ratio']:.2f}", file=sys.stderr, flush=True)
    print(f"Python {platform.python_version()}, {len(names)} workloads, {args.repeats} repeats,"
          f" {time.perf_counter() - started:.0f} s")
    print("\n".join(table(rows)))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
