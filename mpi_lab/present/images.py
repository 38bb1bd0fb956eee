"""Pictures: bench's speed-up plots (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_speedup(report: dict[str, Any], path: Path) -> None:
    """Speed-up against parallelism (workers x ranks), one line per backend, ideal drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    results = [r for r in report["results"] if r["status"] == "ok" and r["speedup"]]
    workloads = sorted({r["workload"] for r in results}) or ["pi"]
    figure = Figure(figsize=(5.5 * len(workloads), 4.2), dpi=100)
    for column, workload in enumerate(workloads, start=1):
        axes = figure.add_subplot(1, len(workloads), column)
        lines: dict[str, list[tuple[int, float]]] = {}
        for r in results:
            if r["workload"] == workload:
                label = f"{r['backend']} x MPI ranks" if r["ranks"] > 1 else r["backend"]
                lines.setdefault(label, []).append((r["workers"] * r["ranks"], r["speedup"]))
        top = max([p for points in lines.values() for p, _ in points] + [2])
        axes.plot([1, top], [1, top], color="grey", linestyle="--", label="ideal")
        for label, points in sorted(lines.items()):
            xs, ys = zip(*sorted(points), strict=True)
            axes.plot(xs, ys, marker="o", label=label)
        axes.set_title(f"{workload}: speed-up over serial")
        axes.set_xlabel("parallelism (workers x ranks)")
        axes.set_ylabel("speed-up")
        axes.set_xticks(range(1, top + 1))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, format="png")
