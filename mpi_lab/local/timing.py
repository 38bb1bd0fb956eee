"""Where one process's part of a run spends its time (``--explain``, ``--timeline``).

A run that asks for it has a ``Recorder`` here (``recording``); the run frame, the runner and
the MPI coordinator time their phases on the main thread with it, and every item's kernel
stamps when it ran (``kernel_calls.Timed``). A map over the workers is split lane by lane,
one lane per worker, so the parts add up to the map's wall time:

    compute     the kernel running                      (stamped in the worker)
    receiving   its result made ready to travel         (stamped in the worker), and turned
                back into results here after the map    (timed here)
    sending     a worker idle between its items while   (the hand-off both ways: items out,
                items remained                          results in)
    waiting     a worker idle after its last item       (imbalance: others still busy)

The parts of the lanes are averaged: with 4 workers each busy half the map, compute is half
the map's wall time. Without a recorder nothing is timed: the run's code path is as before.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

KINDS = ("start-up", "plan", "sending", "compute", "waiting", "receiving", "combine", "other")
SPANS_KEPT = 50_000  # per process, for the timeline: a picture, not a log
Stamp = tuple[int, tuple[int, int], float, float, float]  # kernel_calls.Timed's
MAIN = "main"  # the lane of the process's own thread: phases, not items


class Recorder:
    """One process's measurements of one run, from ``origin`` (``time.perf_counter``)."""

    def __init__(self, origin: float, spans: bool) -> None:
        self.origin = origin
        self.parts = dict.fromkeys(KINDS, 0.0)
        self.bytes = {"sending": 0, "receiving": 0}
        self.estimated: set[str] = set()
        self.keep_spans = spans
        self.spans: list[tuple[Any, str, float, float, int | None]] = []
        self.dropped = 0
        self.lanes: dict[Any, int] = {}  # worker -> items it ran
        self.workers = 0  # the most workers a map had

    def add(self, kind: str, start: float, end: float, lane: Any = MAIN,
            item: int | None = None, counted: bool = True) -> None:
        """``end - start`` seconds of ``kind`` (``counted``: on the process's wall time)."""
        if counted:
            self.parts[kind] += end - start
        if self.keep_spans and end > start:
            if len(self.spans) < SPANS_KEPT:
                self.spans.append((lane, kind, start - self.origin, end - self.origin, item))
            else:
                self.dropped += 1

    @contextlib.contextmanager
    def phase(self, kind: str) -> Iterator[None]:
        """Time the block as ``kind``, on the main thread."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(kind, start, time.perf_counter())

    def mapped(self, start: float, end: float, stamps: Sequence[Stamp], workers: int,
               sent: int = 0, received: int = 0) -> None:
        """A map from ``start`` to ``end`` on ``workers`` workers, whose items were stamped
        ``stamps``, and ``sent`` and ``received`` bytes crossed to and from them: its wall
        time split lane by lane (see the module's docstring)."""
        self.bytes["sending"] += sent
        self.bytes["receiving"] += received
        # The hand-off between a worker's items moves items out and results in: split by bytes.
        outward = sent / (sent + received) if sent + received else 1.0
        # Before a worker's first item of the run: it was starting (pools start them lazily).
        head_kind = "start-up" if not self.lanes else "sending"
        by_lane: dict[Any, list[Stamp]] = {}
        for stamp in stamps:
            by_lane.setdefault(stamp[1], []).append(stamp)
        lanes = max(workers, len(by_lane))
        self.workers = max(self.workers, lanes)
        wall = end - start
        totals = dict.fromkeys(KINDS, 0.0)
        for lane, own in by_lane.items():
            compute = sum(computed - began for _, _, began, computed, _ in own)
            carry = sum(ended - computed for _, _, _, computed, ended in own)
            first = min(began for _, _, began, _, _ in own)
            last = max(ended for *_, ended in own)
            head = max(0.0, first - start) if lane not in self.lanes else 0.0
            tail = max(0.0, end - last)
            gaps = max(0.0, wall - compute - carry - tail - head)
            self.lanes[lane] = self.lanes.get(lane, 0) + len(own)
            totals["compute"] += compute
            totals["receiving"] += carry + gaps * (1 - outward)
            totals["sending"] += gaps * outward
            totals[head_kind] += head
            totals["waiting"] += tail
            if head:
                self.add(head_kind, start, first, lane, counted=False)
            for index, _, began, computed, ended in own:
                self.add("compute", began, computed, lane, index, counted=False)
                self.add("receiving", computed, ended, lane, index, counted=False)
            self.add("waiting", last, end, lane, counted=False)
        totals["waiting"] += wall * (lanes - len(by_lane))  # workers that got no item
        for kind, seconds in totals.items():
            self.parts[kind] += seconds / lanes if lanes else 0.0
        if not lanes:
            self.parts["sending"] += wall

    def local(self, wall: float) -> dict[str, Any]:
        """This process's breakdown of ``wall`` seconds: every part, ``other`` what no part
        measured (never below zero: then the parts overlap by that much)."""
        parts = dict(self.parts)
        parts["other"] = max(0.0, wall - sum(v for k, v in parts.items() if k != "other"))
        return {"seconds": wall, "parts": {k: round(v, 6) for k, v in parts.items()},
                "bytes": dict(self.bytes), "estimated": sorted(self.estimated),
                "workers": self.workers, "items": sum(self.lanes.values())}

    def timeline_part(self) -> dict[str, Any]:
        """This process's lanes and spans, for the run's timeline."""
        lanes = [MAIN, *sorted(self.lanes, key=str)]
        where = {lane: at for at, lane in enumerate(lanes)}
        return {"lanes": [_lane_name(lane) for lane in lanes],
                "spans": [{"lane": where.get(lane, 0), "kind": kind, "start": round(start, 6),
                           "end": round(end, 6), "item": item}
                          for lane, kind, start, end, item in self.spans],
                "dropped": self.dropped}


def _lane_name(lane: Any) -> str:
    if lane == MAIN:
        return MAIN
    pid, thread = lane
    return f"pid {pid} thread {thread}"


class _Current:
    recorder: Recorder | None = None


def current() -> Recorder | None:
    """The run's recorder, if it asked to be explained."""
    return _Current.recorder


@contextlib.contextmanager
def recording(recorder: Recorder | None) -> Iterator[Recorder | None]:
    """Within the block, ``recorder`` is this process's (None: nothing is timed)."""
    before, _Current.recorder = _Current.recorder, recorder
    try:
        yield recorder
    finally:
        _Current.recorder = before


def phase(kind: str) -> contextlib.AbstractContextManager[None]:
    """Time the block as ``kind`` if the run is recorded; else nothing."""
    recorder = _Current.recorder
    return contextlib.nullcontext() if recorder is None else recorder.phase(kind)


def timed(iterable: Iterable[Any], kind: str) -> Iterable[Any]:
    """``iterable``, the time each next value takes counted as ``kind`` if the run is
    recorded (a rank's chunks, as they arrive); else ``iterable`` itself."""
    recorder = _Current.recorder
    if recorder is None:
        return iterable
    return _timed(iter(iterable), kind, recorder)


def _timed(source: Iterator[Any], kind: str, recorder: Recorder) -> Iterator[Any]:
    while True:
        start = time.perf_counter()
        try:
            value = next(source)
        except StopIteration:
            return
        finally:
            recorder.add(kind, start, time.perf_counter())
        yield value
