"""A run's timeline, saved for a person: a PNG (one lane per worker, a bar per span coloured by
kind) or a Chrome trace (``.json``, which chrome://tracing and https://ui.perfetto.dev open).

A ``timeline`` dict (recorded by the run frame) holds the ``workload``, ``backend``, wall
``seconds``, the ``lanes`` (``rank``, ``host``, ``worker``; rank 0 first, each rank's ``main``
thread among them), the ``spans`` (``lane`` index, ``kind`` of ``KINDS``, ``start``, ``end`` in
seconds since the run started, plan ``item`` or None) and how many spans were ``dropped``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpi_lab.core.errors import ConfigError
from mpi_lab.present import files
from mpi_lab.present.breakdown import COLOURS, KINDS, alpha

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SUFFIXES = (".png", ".json")
MICROSECONDS = 1_000_000  # the trace format's unit


def check_timeline_path(path: str) -> None:
    """Refuse, before a run starts, a timeline that could not be saved: an unknown suffix, a
    PNG without matplotlib, a folder that is missing or takes no new file."""
    check_timeline_kind(path)
    files.check_output_path(path, what="timeline")


def check_timeline_kind(path: str) -> None:
    """Refuse a timeline file of a kind that cannot be written here: an unknown suffix, a PNG
    without matplotlib (the folder is rank 0's to check: ``check_timeline_path``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"timeline {path!r}: unknown suffix; use .png (a picture) or .json"
                          " (a Chrome trace)")
    if suffix == ".png" and importlib.util.find_spec("matplotlib") is None:
        raise ConfigError(f"timeline {path!r}: a PNG needs matplotlib:"
                          " pip install 'mpi_lab[plot]'")


def save_timeline(timeline: dict[str, Any], path: str | Path) -> None:
    """Write ``timeline`` to ``path`` as its suffix says (``.png`` or ``.json``), all or
    nothing."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        trace = chrome_trace(timeline)
        files.save(lambda temp: _write_json(trace, temp), path)
    elif suffix == ".png":
        figure = timeline_figure(timeline)
        files.save(lambda temp: figure.savefig(temp, format="png"), path)
    else:
        raise ConfigError(f"timeline {str(path)!r}: unknown suffix; use .png or .json")


# -- Chrome trace ---------------------------------------------------------------------------


def chrome_trace(timeline: dict[str, Any]) -> dict[str, Any]:
    """The trace-event document: a process per rank, a thread per lane, an ``X`` event per
    span (``ts`` and ``dur`` in microseconds)."""
    lanes = timeline["lanes"]
    events = _metadata(lanes)
    events.extend(_span_event(span, lanes) for span in timeline["spans"])
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {key: timeline.get(key) for key in ("workload", "backend", "seconds",
                                                         "dropped")},
    }


def _metadata(lanes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Names and order of the processes (ranks) and threads (lanes), as the viewers show them."""
    events: list[dict[str, Any]] = []
    named: set[int] = set()
    for index, lane in enumerate(lanes):
        rank = lane["rank"]
        if rank not in named:
            named.add(rank)
            events.append(_meta("process_name", rank, 0, {"name": f"rank {rank} ({lane['host']})"}))
            events.append(_meta("process_sort_index", rank, 0, {"sort_index": rank}))
        events.append(_meta("thread_name", rank, index, {"name": str(lane["worker"])}))
        events.append(_meta("thread_sort_index", rank, index, {"sort_index": index}))
    return events


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def _span_event(span: dict[str, Any], lanes: list[dict[str, Any]]) -> dict[str, Any]:
    item = span.get("item")
    start, end = float(span["start"]), float(span["end"])
    return {
        "name": span["kind"] if item is None else f"item {item}",
        "cat": span["kind"],
        "ph": "X",
        "ts": round(start * MICROSECONDS, 3),
        "dur": round(max(0.0, end - start) * MICROSECONDS, 3),
        "pid": lanes[span["lane"]]["rank"],
        "tid": span["lane"],
        "args": {} if item is None else {"item": item},
    }


def _write_json(trace: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        json.dump(trace, stream, separators=(",", ":"))  # compact: traces run to many MB


def of_chrome_trace(trace: dict[str, Any]) -> dict[str, Any]:
    """The timeline a Chrome trace was written from (``timeline.chrome_trace``), enough to
    draw it: lanes from the thread names, spans from the complete (``X``) events."""
    hosts, lanes = {}, {}
    for event in trace["traceEvents"]:
        if event["ph"] == "M" and event["name"] == "process_name":
            named = re.fullmatch(r"rank \d+ \((.*)\)", event["args"]["name"])
            hosts[event["pid"]] = named.group(1) if named else ""
        elif event["ph"] == "M" and event["name"] == "thread_name":
            lanes[event["tid"]] = {"rank": event["pid"], "worker": event["args"]["name"]}
    place = {tid: index for index, tid in enumerate(sorted(lanes))}  # tid: the lane's index
    spans = [{"lane": place[event["tid"]], "kind": event["cat"],
              "start": event["ts"] / MICROSECONDS,
              "end": (event["ts"] + event["dur"]) / MICROSECONDS,
              "item": event.get("args", {}).get("item")}
             for event in trace["traceEvents"] if event["ph"] == "X"]
    return {**trace.get("otherData", {}), "spans": spans,
            "lanes": [{**lanes[tid], "host": hosts.get(lanes[tid]["rank"], "")}
                      for tid in place]}


# -- PNG --------------------------------------------------------------------------------------


def timeline_figure(timeline: dict[str, Any]) -> Figure:
    """The picture ``save_timeline`` writes as a PNG, not yet saved: one lane per worker,
    grouped by rank, the spans as bars coloured by kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lanes = timeline["lanes"]
    places = lane_places(lanes)
    height = min(60.0, 2.2 + 0.3 * (max(places, default=0) + 1))  # Agg refuses huge images
    figure = Figure(figsize=(11, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # draw with Agg whatever backend pyplot uses
    axes = figure.add_subplot()
    drawn = _draw_spans(axes, timeline["spans"], places)
    _label_lanes(axes, lanes, places)
    seconds = float(timeline.get("seconds") or 0.0)
    ends = [float(span["end"]) for span in timeline["spans"]]
    axes.set_xlim(0, max([seconds, *ends, 1e-3]))
    axes.set_xlabel("seconds since the run started")
    axes.set_title(f"{timeline.get('workload')} on {timeline.get('backend')}: {seconds:.2f} s")
    if timeline.get("dropped", 0) > 0:
        axes.set_title(f"{timeline['dropped']} spans left out", loc="right", fontsize=8,
                       color="dimgrey")
    _legend(figure, drawn)
    return figure


def lane_places(lanes: list[dict[str, Any]]) -> list[float]:
    """Each lane's y position: one per lane, half a lane of space between ranks."""
    places: list[float] = []
    place = 0.0
    for index, lane in enumerate(lanes):
        if index and lane["rank"] != lanes[index - 1]["rank"]:
            place += 0.5
        places.append(place)
        place += 1.0
    return places


def _draw_spans(axes: Axes, spans: list[dict[str, Any]], places: list[float]) -> set[str]:
    """One ``broken_barh`` per lane and kind (not one artist per span, so that a hundred
    thousand spans draw quickly); returns the kinds drawn."""
    bars: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for span in spans:
        kind = span["kind"] if span["kind"] in COLOURS else "other"  # draw what a newer recorder names
        start = float(span["start"])
        bars.setdefault((span["lane"], kind), []).append((start, float(span["end"]) - start))
    for (lane, kind), ranges in bars.items():
        # No edges: an edge would paint spans narrower than a pixel over their neighbours.
        axes.broken_barh(ranges, (places[lane] - 0.4, 0.8), facecolors=COLOURS[kind],
                         linewidths=0, alpha=alpha(kind))
    return {kind for _, kind in bars}


def _label_lanes(axes: Axes, lanes: list[dict[str, Any]], places: list[float]) -> None:
    """Workers on the left axis; each rank named on the right, a line between ranks."""
    size = 8 if len(lanes) <= 60 else 5
    axes.set_yticks(places, [str(lane["worker"]) for lane in lanes], fontsize=size)
    axes.set_ylim(max(places, default=0) + 0.7, -0.7)  # lane 0 (rank 0's main) on top
    ranks: dict[int, list[float]] = {}
    hosts: dict[int, str] = {}
    for lane, place in zip(lanes, places, strict=True):
        ranks.setdefault(lane["rank"], []).append(place)
        hosts[lane["rank"]] = lane["host"]
    transform = axes.get_yaxis_transform()  # x in axes fraction, y in data
    for rank, rows in ranks.items():
        middle = (rows[0] + rows[-1]) / 2
        axes.text(1.005, middle, f"rank {rank}\n{hosts[rank]}", transform=transform,
                  va="center", ha="left", fontsize=size)
        if rows[0] > 0:
            axes.axhline(rows[0] - 0.75, color="lightgrey", linewidth=0.8)
    axes.grid(axis="x", alpha=0.3)


def _legend(figure: Figure, drawn: set[str]) -> None:
    """The kinds present, in ``KINDS`` order, below the axes."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=COLOURS[kind], alpha=alpha(kind), label=kind)
               for kind in KINDS if kind in drawn]
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                      fontsize=8, frameon=False)
