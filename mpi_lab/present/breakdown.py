"""Where a run's time went: the text block ``--explain`` prints and bench's stacked bars; the
kinds of time and their colours, which the timeline (``present.timeline``) shares.

An ``explain`` dict (measured by the run frame) holds the wall ``seconds``, the ``parts`` (seconds
per kind), the parts that are ``estimated`` (estimates) and ``per_rank`` parts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpi_lab.local.timing import KINDS
from mpi_lab.present import files

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# One fixed colour per kind, in every picture, so a reader learns them once.
COLOURS = {
    "start-up": "#7f7f7f",
    "plan": "#9467bd",
    "sending": "#1f77b4",
    "compute": "#2ca02c",
    "waiting": "#d62728",
    "receiving": "#ff7f0e",
    "combine": "#8c564b",
    "other": "#bcbd22",
}
# Time no work is done in is drawn lighter, so the eye goes to the work.
LIGHT = frozenset({"start-up", "waiting"})
BAR_WIDTH = 20  # characters of ``#`` for 100 % of the wall time


def alpha(kind: str) -> float:
    """How opaque a kind is drawn: the idle kinds lighter."""
    return 0.35 if kind in LIGHT else 1.0


def breakdown_text(explain: dict[str, Any]) -> str:
    """The block ``--explain`` prints: each part with seconds, percent of wall and a bar, the
    sum against the wall time, then one line per rank when there are several."""
    wall = float(explain["seconds"])
    parts = explain["parts"]
    unmeasured = set(explain.get("estimated", ()))
    lines = [f"where the time went ({wall:.3f} s wall):"]
    for kind in KINDS:
        seconds = float(parts.get(kind, 0.0))
        note = "  (estimated)" if kind in unmeasured else ""
        lines.append(f"  {kind:<10} {seconds:9.3f} s {_percent(seconds, wall):6.1f} %  "
                     f"{_bar(seconds, wall):<{BAR_WIDTH}}{note}".rstrip())
    total = sum(float(parts.get(kind, 0.0)) for kind in KINDS)
    lines.append(f"  {'sum':<10} {total:9.3f} s {_percent(total, wall):6.1f} %")
    lines.append(f"  {'wall':<10} {wall:9.3f} s")
    per_rank = explain.get("per_rank", [])
    if len(per_rank) > 1:
        lines.append("per rank:")
        lines.extend(_rank_line(rank) for rank in per_rank)
    return "\n".join(lines)


def _percent(seconds: float, wall: float) -> float:
    return 100.0 * seconds / wall if wall > 0 else 0.0


def _bar(seconds: float, wall: float) -> str:
    return "#" * round(_percent(seconds, wall) * BAR_WIDTH / 100)


def _rank_line(rank: dict[str, Any]) -> str:
    """``rank 1 (host): compute 1.900 s, waiting 0.200 s, ...``: the kinds it spent time in."""
    parts = rank["parts"]
    spent = [f"{kind} {float(parts[kind]):.3f} s" for kind in KINDS if parts.get(kind, 0.0) > 0]
    return f"  rank {rank['rank']} ({rank['host']}): {', '.join(spent) or 'nothing measured'}"


def save_breakdown_plot(rows: list[tuple[str, dict[str, Any]]], path: str | Path) -> None:
    """A PNG of one stacked horizontal bar per ``(label, explain)`` row, parts in ``KINDS``
    order, estimated parts hatched; written all or nothing."""
    figure = breakdown_figure(rows)
    files.save(lambda temp: figure.savefig(temp, format="png"), path)


def breakdown_figure(rows: list[tuple[str, dict[str, Any]]]) -> Figure:
    """The stacked bars of ``save_breakdown_plot``, not yet saved."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 1.6 + 0.45 * max(1, len(rows))), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # draw with Agg whatever backend pyplot uses
    axes = figure.add_subplot()
    places = range(len(rows))
    lefts = [0.0] * len(rows)
    for kind in KINDS:
        widths = [float(explain["parts"].get(kind, 0.0)) for _, explain in rows]
        bars = axes.barh(places, widths, left=lefts, height=0.6, color=COLOURS[kind],
                         alpha=alpha(kind), label=kind, edgecolor="white", linewidth=0)
        for bar, (_, explain) in zip(bars, rows, strict=True):
            if kind in explain.get("estimated", ()):
                bar.set_hatch("///")
        lefts = [left + width for left, width in zip(lefts, widths, strict=True)]
    for place, (_, explain) in zip(places, rows, strict=True):
        axes.annotate(f" {float(explain['seconds']):.2f} s wall",
                      (max(lefts[place], float(explain["seconds"])), place),
                      va="center", fontsize=8)
    axes.set_yticks(list(places), [label for label, _ in rows])
    axes.invert_yaxis()  # the first row on top, as a table reads
    axes.set_xlabel("seconds (hatched: estimated)")
    axes.set_title("where each run's time goes")
    axes.margins(x=0.15)
    figure.legend(loc="outside lower center", ncols=len(KINDS), fontsize=8, frameon=False)
    return figure
