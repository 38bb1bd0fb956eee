"""Pictures: bench's speed-up plots and its breakdown bars (matplotlib, the ``plot`` extra)."""

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


def explained_workloads(report: dict[str, Any]) -> list[str]:
    """The workloads with an explained point, in the report's order."""
    return list(dict.fromkeys(r["workload"] for r in _explained(report)))


def breakdown_rows(report: dict[str, Any], workload: str) -> list[tuple[str, dict[str, Any]]]:
    """One ``(label, explain)`` per backend of ``workload``: on one rank, its highest worker
    count; then each point across MPI ranks as its own row."""
    points = [r for r in _explained(report) if r["workload"] == workload]
    widest: dict[str, dict[str, Any]] = {}
    for r in points:
        if r["ranks"] == 1 and r["workers"] >= widest.get(r["backend"], {}).get("workers", 0):
            widest[r["backend"]] = r
    rows = [(_local_label(r), r["explain"]) for r in widest.values()]
    rows.extend((f"{r['backend']} \N{MULTIPLICATION SIGN}{r['ranks']} ranks", r["explain"])
                for r in points if r["ranks"] > 1)
    return rows


def save_breakdown(report: dict[str, Any], workload: str, path: Path) -> None:
    """``workload``'s breakdown rows as stacked bars (``present.breakdown``), a PNG titled
    with the workload, written all or nothing."""
    from mpi_lab.present import files
    from mpi_lab.present.breakdown import breakdown_figure

    figure = breakdown_figure(breakdown_rows(report, workload))
    figure.axes[0].set_title(f"{workload}: where each point's time goes (its last repeat)")
    files.save(lambda temp: figure.savefig(temp, format="png"), path)


def _explained(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["status"] == "ok" and r.get("explain")]


def _local_label(result: dict[str, Any]) -> str:
    """The backend and its workers; serial's one worker goes without saying."""
    if result["workers"] == 1:
        return str(result["backend"])
    return f"{result['backend']} \N{MULTIPLICATION SIGN}{result['workers']} workers"


def save_trace_picture(trace: dict[str, Any], path: Path) -> None:
    """The timeline PNG (``present.timeline``) of a run's Chrome trace."""
    from mpi_lab.present.timeline import of_chrome_trace, save_timeline

    save_timeline(of_chrome_trace(trace), path)
