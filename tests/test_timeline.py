"""A run's timeline (Chrome trace, PNG) and time breakdown (text, stacked bars), on made-up runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mpi_lab.core.errors import ConfigError
from mpi_lab.present import breakdown, timeline
from mpi_lab.present.breakdown import KINDS, breakdown_text, save_breakdown_plot
from mpi_lab.present.timeline import (
    check_timeline_path,
    chrome_trace,
    of_chrome_trace,
    save_timeline,
    timeline_figure,
)

pytestmark = pytest.mark.timeout(60)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def plot() -> None:
    pytest.importorskip("matplotlib", reason="PNG output needs the plot extra (mpi_lab[plot])")


def made_up_run(ranks: int = 2, workers: int = 3, items_per_worker: int = 4,
                dropped: int = 0) -> dict[str, Any]:
    """Each rank: a main lane (start-up, plan, combine) and worker lanes (compute, receiving,
    waiting); the items numbered in the order they run."""
    lanes: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    item = 0
    step = 2.0 / items_per_worker
    for rank in range(ranks):
        lanes.append({"rank": rank, "host": f"node{rank}", "worker": "main"})
        main = len(lanes) - 1
        spans += [{"lane": main, "kind": "start-up", "start": 0.0, "end": 0.09, "item": None},
                  {"lane": main, "kind": "plan", "start": 0.09, "end": 0.1, "item": None},
                  {"lane": main, "kind": "combine", "start": 2.2, "end": 2.3, "item": None}]
        for worker in range(workers):
            lanes.append({"rank": rank, "host": f"node{rank}", "worker": f"pid {100 * rank + worker}"})
            lane = len(lanes) - 1
            start = 0.1
            for _ in range(items_per_worker):
                spans.append({"lane": lane, "kind": "compute", "start": start,
                              "end": start + 0.9 * step, "item": item})
                spans.append({"lane": lane, "kind": "receiving", "start": start + 0.9 * step,
                              "end": start + step, "item": item})
                start += step
                item += 1
            spans.append({"lane": lane, "kind": "waiting", "start": start, "end": 2.3,
                          "item": None})
    return {"workload": "pi", "backend": "process-pool", "seconds": 2.31, "lanes": lanes,
            "spans": spans, "dropped": dropped}


def made_up_explain(ranks: int = 1) -> dict[str, Any]:
    parts = {"start-up": 0.09, "plan": 0.01, "sending": 0.05, "compute": 1.9, "waiting": 0.2,
             "receiving": 0.03, "combine": 0.001, "other": 0.029}
    return {"seconds": 2.31, "parts": parts, "estimated": ["sending"],
            "per_rank": [{"rank": rank, "host": f"node{rank}",
                          "parts": {kind: seconds / ranks for kind, seconds in parts.items()}}
                         for rank in range(ranks)]}


# -- the Chrome trace ---------------------------------------------------------------------------


def test_chrome_trace_has_an_event_per_span_in_microseconds(tmp_path: Path):
    run = made_up_run(ranks=2, workers=3)
    path = tmp_path / "run.json"
    save_timeline(run, str(path))
    trace = json.loads(path.read_text(encoding="utf-8"))
    assert trace["displayTimeUnit"] == "ms"
    assert trace["otherData"] == {"workload": "pi", "backend": "process-pool", "seconds": 2.31,
                                  "dropped": 0}
    complete = [event for event in trace["traceEvents"] if event["ph"] == "X"]
    assert len(complete) == len(run["spans"])
    for event, span in zip(complete, run["spans"], strict=True):
        assert event["ts"] == pytest.approx(span["start"] * 1e6)
        assert event["dur"] == pytest.approx((span["end"] - span["start"]) * 1e6)
        assert event["tid"] == span["lane"]
        assert event["pid"] == run["lanes"][span["lane"]]["rank"]
        assert event["cat"] == span["kind"]
        if span["item"] is None:
            assert event["name"] == span["kind"]
        else:
            assert event["name"] == f"item {span['item']}"
            assert event["args"] == {"item": span["item"]}


def test_chrome_trace_names_each_rank_and_lane(tmp_path: Path):
    run = made_up_run(ranks=2, workers=2)
    path = tmp_path / "run.json"
    save_timeline(run, path)
    events = json.loads(path.read_text(encoding="utf-8"))["traceEvents"]
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
               if e["name"] == "thread_name"}
    assert processes == {0: "rank 0 (node0)", 1: "rank 1 (node1)"}
    assert threads == {(lane["rank"], index): lane["worker"]
                       for index, lane in enumerate(run["lanes"])}
    assert threads[(0, 0)] == "main"
    assert threads[(1, 5)] == "pid 101"


# -- the PNG ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("plot")
def test_png_is_written(tmp_path: Path):
    path = tmp_path / "run.png"
    save_timeline(made_up_run(dropped=5), str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["run.png"]  # no temporary file left


@pytest.mark.usefixtures("plot")
def test_png_has_a_lane_per_worker_and_grows_with_them():
    small, large = made_up_run(ranks=1, workers=2), made_up_run(ranks=3, workers=4)
    small_figure, large_figure = timeline_figure(small), timeline_figure(large)
    labels = [label.get_text() for label in large_figure.axes[0].get_yticklabels()]
    assert labels == [lane["worker"] for lane in large["lanes"]]
    assert len(labels) == 15
    assert large_figure.get_figheight() > small_figure.get_figheight()


@pytest.mark.usefixtures("plot")
def test_png_draws_one_collection_per_lane_and_kind():
    run = made_up_run(ranks=2, workers=3)
    axes = timeline_figure(run).axes[0]
    pairs = {(span["lane"], span["kind"]) for span in run["spans"]}
    assert len(axes.collections) == len(pairs)


@pytest.mark.usefixtures("plot")
def test_png_says_how_many_spans_were_dropped():
    axes = timeline_figure(made_up_run(dropped=7)).axes[0]
    assert "7 spans left out" in axes.get_title(loc="right")
    assert axes.get_title() == "pi on process-pool: 2.31 s"
    assert timeline_figure(made_up_run()).axes[0].get_title(loc="right") == ""


@pytest.mark.usefixtures("plot")
def test_png_of_a_hundred_thousand_spans(tmp_path: Path):
    run = made_up_run(ranks=2, workers=5, items_per_worker=5000)
    assert len(run["spans"]) > 100_000
    path = tmp_path / "big.png"
    save_timeline(run, path)
    assert path.read_bytes().startswith(PNG_MAGIC)


# -- refused before, nothing left behind --------------------------------------------------------


@pytest.mark.parametrize("name", ["run.svg", "run.txt", "run"])
def test_unknown_suffix_refused(tmp_path: Path, name: str):
    with pytest.raises(ConfigError, match=r"unknown suffix; use \.png"):
        check_timeline_path(str(tmp_path / name))
    with pytest.raises(ConfigError, match="unknown suffix"):
        save_timeline(made_up_run(), str(tmp_path / name))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["run.png", "run.json"])
def test_missing_folder_refused(tmp_path: Path, name: str):
    with pytest.raises(ConfigError, match="does not exist") as caught:
        check_timeline_path(str(tmp_path / "nowhere" / name))
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_png_without_matplotlib_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    find_spec = timeline.importlib.util.find_spec
    monkeypatch.setattr(timeline.importlib.util, "find_spec",
                        lambda name, *args: None if name == "matplotlib" else find_spec(name, *args))
    with pytest.raises(ConfigError, match=r"pip install 'mpi_lab\[plot\]'"):
        check_timeline_path(str(tmp_path / "run.png"))
    check_timeline_path(str(tmp_path / "run.json"))  # a trace needs no matplotlib
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("plot")
def test_failed_drawing_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from matplotlib.figure import Figure

    def half_then_fail(self: Figure, path: Path, **kwargs: Any) -> None:
        Path(path).write_bytes(PNG_MAGIC)
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    with pytest.raises(RuntimeError, match="drawing failed"):
        save_timeline(made_up_run(), tmp_path / "run.png")
    assert list(tmp_path.iterdir()) == []


def test_failed_trace_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "run.json"
    path.write_text("old", encoding="utf-8")

    def half_then_fail(trace: dict[str, Any], stream: Any, **kwargs: Any) -> None:
        stream.write('{"traceEvents": [')
        raise RuntimeError("encoding failed")

    monkeypatch.setattr(timeline.json, "dump", half_then_fail)
    with pytest.raises(RuntimeError, match="encoding failed"):
        save_timeline(made_up_run(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert path.read_text(encoding="utf-8") == "old"


# -- the breakdown ------------------------------------------------------------------------------


def test_breakdown_lists_every_part_and_marks_estimates():
    explain = made_up_explain()
    text = breakdown_text(explain)
    lines = text.splitlines()
    for kind in KINDS:
        [line] = [line for line in lines if line.split()[0] == kind]
        assert f"{explain['parts'][kind]:.3f} s" in line
        assert ("(estimated)" in line) == (kind == "sending")
    assert "#" * 16 in next(line for line in lines if line.split()[0] == "compute")
    assert any(line.split()[:3] == ["wall", "2.310", "s"] for line in lines)
    assert any(line.split()[:4] == ["sum", "2.310", "s", "100.0"] for line in lines)
    assert "rank" not in text  # one rank: nothing per rank


def test_breakdown_has_a_line_per_rank_when_several():
    lines = breakdown_text(made_up_explain(ranks=3)).splitlines()
    ranks = [line for line in lines if line.strip().startswith("rank ")]
    assert [line.split()[:3] for line in ranks] == [["rank", "0", "(node0):"],
                                                    ["rank", "1", "(node1):"],
                                                    ["rank", "2", "(node2):"]]
    assert "compute 0.633 s" in ranks[0]


def test_breakdown_of_an_instant_run():
    text = breakdown_text({"seconds": 0.0, "parts": {}, "estimated": [], "per_rank": []})
    assert "compute" in text
    assert "0.0 %" in text


@pytest.mark.usefixtures("plot")
def test_breakdown_plot_stacks_parts_and_hatches_estimates(tmp_path: Path):
    rows = [("process-pool", made_up_explain()), ("thread-pool", made_up_explain(ranks=2))]
    figure = breakdown.breakdown_figure(rows)
    bars = figure.axes[0].patches
    assert len(bars) == len(KINDS) * len(rows)
    hatched = {(bar.get_facecolor()[:3], bar.get_hatch()) for bar in bars if bar.get_hatch()}
    assert len(hatched) == 1  # sending, in both rows
    path = tmp_path / "breakdown.png"
    save_breakdown_plot(rows, str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_timeline_and_breakdown_share_kinds_and_colours():
    assert set(breakdown.COLOURS) == set(KINDS)
    assert timeline.KINDS is breakdown.KINDS
    assert timeline.COLOURS is breakdown.COLOURS


def test_a_trace_read_back_is_the_timeline_it_was_written_from():
    drawn = {"workload": "pi", "backend": "threads", "seconds": 0.5, "dropped": 0,
             "lanes": [{"rank": 0, "host": "a (b)", "worker": "main"},
                       {"rank": 0, "host": "a (b)", "worker": "thread 1"},
                       {"rank": 1, "host": "c", "worker": "main"}],
             "spans": [{"lane": 0, "kind": "plan", "start": 0.0, "end": 0.125, "item": None},
                       {"lane": 1, "kind": "compute", "start": 0.125, "end": 0.5, "item": 3},
                       {"lane": 2, "kind": "waiting", "start": 0.25, "end": 0.5,
                        "item": None}]}
    assert of_chrome_trace(chrome_trace(drawn)) == drawn
