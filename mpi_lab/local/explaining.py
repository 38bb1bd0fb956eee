"""A run's breakdown and timeline, made of what each process measured (``timing.Recorder``).

Each rank sends rank 0 its own breakdown (``measured``); rank 0 makes the run's (``merged``):
its own parts are the run's (rank 0's wall time is the run's), every rank's are beside them,
and the timeline has one lane per worker of each rank, plus each rank's main thread.
"""

from __future__ import annotations

import os
from typing import Any

from mpi_lab.local.timing import Recorder

ESTIMATED = ("sending",)  # inferred: a worker's idle time between its items


def measured(recorder: Recorder, rank: int, wall: float) -> dict[str, Any]:
    """This process's breakdown of its ``wall`` seconds, and its timeline part if kept."""
    part = {"rank": rank, "host": os.uname().nodename, **recorder.local(round(wall, 6))}
    if recorder.keep_spans:
        part["timeline"] = recorder.timeline_part()
    return part


def partial(recorder: Recorder, rank: int) -> dict[str, Any]:
    """What this process measured of a run that did not finish, up to now."""
    import time

    from mpi_lab.progress import meter

    part = measured(recorder, rank, time.perf_counter() - recorder.origin)
    part.pop("timeline", None)
    part["finished"] = False
    part["items"] = max(part["items"], meter.current().done)  # a map cut short counts too
    return part


def partial_timeline(recorder: Recorder, workload: str) -> dict[str, Any]:
    """The timeline of a run that did not finish, up to now, as this process saw it."""
    import time

    part = measured(recorder, 0, time.perf_counter() - recorder.origin)
    return merged([part], workload, "a run that ended early", True)[1] or {}


def merged(parts: list[dict[str, Any]], workload: str, backend: str,
           timeline: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The run's breakdown (rank 0's parts, every rank's beside them) and its timeline."""
    root = parts[0]
    explain = {
        "seconds": round(root["seconds"], 6),
        "parts": root["parts"],
        "estimated": sorted(set(ESTIMATED).union(*(p["estimated"] for p in parts))),
        "bytes": {kind: sum(p["bytes"][kind] for p in parts) for kind in root["bytes"]},
        "per_rank": [{key: p[key] for key in ("rank", "host", "seconds", "parts", "workers",
                                             "items")} for p in parts],
    }
    if not timeline:
        return explain, None
    lanes: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    for part in parts:
        own = part["timeline"]
        offset = len(lanes)
        lanes += [{"rank": part["rank"], "host": part["host"], "worker": name}
                  for name in own["lanes"]]
        spans += [{**span, "lane": span["lane"] + offset} for span in own["spans"]]
    shown = backend if len(parts) == 1 else f"{backend}, {len(parts)} ranks"
    return explain, {"workload": workload, "backend": shown, "seconds": explain["seconds"],
                     "lanes": lanes, "spans": spans,
                     "dropped": sum(p["timeline"]["dropped"] for p in parts)}

