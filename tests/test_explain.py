"""``--explain`` and ``--timeline``: where a run's time went, from every backend, without
changing its answer; what a failed run measured; the CLI's text and JSON; the timeline's lanes.

MPI cases are in ``test_mpi.py`` (under ``mpiexec``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import runs

import mpi_lab
from mpi_lab import backends
from mpi_lab.core.errors import ConfigError, WorkerError
from mpi_lab.local import timing

pytestmark = pytest.mark.timeout(180)

AVAILABLE = [name for name in backends.NAMES if backends.availability(name).available]
PI = {"trials": 3_000_000, "block_size": 50_000, "seed": 3}
UNMEASURED_AT_MOST = 0.10  # of the wall time: what no part accounts for


@pytest.mark.parametrize("backend", AVAILABLE)
def test_every_backend_explains_its_time_and_keeps_its_answer(backend: str, tmp_path: Path):
    plain = mpi_lab.run("pi", params=PI, backend="serial")
    explained = mpi_lab.run("pi", params=PI, backend=backend, workers=2, explain=True,
                            timeline=tmp_path / "t.json")
    assert explained.answer == plain.answer
    explain = explained.explain
    assert set(explain["parts"]) == set(timing.KINDS)
    assert all(seconds >= 0 for seconds in explain["parts"].values())
    assert explain["seconds"] == pytest.approx(explained.seconds, abs=1e-5)
    assert explain["parts"]["other"] <= UNMEASURED_AT_MOST * explain["seconds"]
    assert explain["parts"]["compute"] > 0
    assert sum(explain["parts"].values()) == pytest.approx(explain["seconds"], rel=0.01)


def test_without_explain_nothing_is_measured():
    report = mpi_lab.run("pi", params=PI, backend="thread-pool", workers=2)
    assert report.explain is None and report.timeline is None
    assert "explain" not in report.to_dict()


def test_the_timeline_has_every_item_once_on_a_worker_lane(tmp_path: Path):
    path = tmp_path / "pi.json"
    report = mpi_lab.run("pi", params=PI, backend="process-pool", workers=2, timeline=path)
    items = [span["item"] for span in report.timeline["spans"] if span["kind"] == "compute"]
    assert sorted(items) == list(range(report.per_rank[0].items))
    lanes = report.timeline["lanes"]
    worker_lanes = {span["lane"] for span in report.timeline["spans"]
                    if span["kind"] == "compute"}
    assert all(lanes[lane]["worker"] != "main" for lane in worker_lanes)
    assert 1 <= len(worker_lanes) <= 2  # the two worker processes, no other
    trace = json.loads(path.read_text())
    assert len([e for e in trace["traceEvents"] if e["ph"] == "X"]) == len(
        report.timeline["spans"])


def test_an_idle_worker_shows_as_waiting():
    """One item, two workers: one worker never gets any, so about half the map is waiting."""
    report = mpi_lab.run("pi", params={"trials": 400_000, "block_size": 400_000},
                         backend="thread-pool", workers=2, explain=True)
    parts = report.explain["parts"]
    assert parts["waiting"] >= 0.3 * parts["compute"]


def test_results_that_cross_are_counted_in_bytes():
    report = mpi_lab.run("fractal", params={"width": 400, "height": 300}, backend="process-pool",
                         workers=2, explain=True)
    assert report.explain["bytes"]["receiving"] >= 400 * 300  # at least a byte a pixel
    inside = mpi_lab.run("fractal", params={"width": 400, "height": 300}, backend="threads",
                         workers=2, explain=True)
    assert inside.explain["bytes"] == {"sending": 0, "receiving": 0}


def test_a_failed_run_carries_what_it_measured():
    with pytest.raises(WorkerError) as failed:
        mpi_lab.run(str(Path(__file__).with_name("wl_faulty.py")), params={"n": 12},
                    backend="thread-pool", workers=2, explain=True)
    measured = failed.value.explain
    assert measured["finished"] is False
    assert set(measured["parts"]) == set(timing.KINDS)
    assert measured["seconds"] > 0


def test_a_timeline_file_is_checked_before_the_run(tmp_path: Path):
    with pytest.raises(ConfigError):
        mpi_lab.run("pi", params=PI, timeline=tmp_path / "t.txt")
    with pytest.raises(ConfigError):
        mpi_lab.run("pi", params=PI, timeline=tmp_path / "missing" / "t.json")
    with pytest.raises(ConfigError):
        mpi_lab.run("pi", params=PI, explain="yes")


def test_the_cli_prints_the_breakdown_and_json_holds_the_same(tmp_path: Path):
    args = [sys.executable, "-m", "mpi_lab", "pi", "--trials", "600000", "--backend",
            "process-pool", "--workers", "2", "--explain"]
    text = subprocess.run(args, capture_output=True, text=True, env=runs.env(), timeout=120)
    assert text.returncode == 0, text.stderr
    for kind in timing.KINDS:
        assert any(line.split()[:1] == [kind] for line in text.stdout.splitlines()), kind
    done = subprocess.run([*args, "--json"], capture_output=True, text=True, env=runs.env(),
                          timeout=120)
    fields = json.loads(done.stdout)
    assert fields["explain"]["seconds"] == fields["seconds"]
    assert fields["explain"]["per_rank"][0]["parts"] == fields["explain"]["parts"]


def test_the_cli_says_what_a_failed_run_measured(tmp_path: Path):
    spec = str(Path(__file__).with_name("wl_faulty.py"))
    done = subprocess.run([sys.executable, "-m", "mpi_lab", "run", spec, "--backend",
                           "thread-pool", "--explain", "--json"], capture_output=True,
                          text=True, env=runs.env(), timeout=120)
    assert done.returncode == 1
    fields = json.loads(done.stdout)
    assert fields["exit_code"] == 1 and fields["explain"]["finished"] is False


def test_lanes_split_a_map_into_parts_that_add_up():
    """Two workers over a 1 s map: one computes 0.8 s then idles, the other computes 0.2 s,
    idles 0.3 s between items, computes 0.2 s, then idles."""
    recorder = timing.Recorder(0.0, spans=False)
    a, b = (1, 1), (1, 2)
    stamps = [(0, a, 0.0, 0.8, 0.8), (1, b, 0.0, 0.2, 0.2), (2, b, 0.5, 0.7, 0.7)]
    recorder.mapped(0.0, 1.0, stamps, workers=2)
    parts = recorder.local(1.0)["parts"]
    assert parts["compute"] == pytest.approx((0.8 + 0.4) / 2)
    assert parts["waiting"] == pytest.approx((0.2 + 0.3) / 2)  # after each one's last item
    assert parts["sending"] == pytest.approx(0.3 / 2)  # the gap while items remained
    assert sum(parts.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("ranks", [1, 3])
def test_under_mpiexec_every_rank_is_explained(ranks: int, tmp_path: Path):
    _needs_mpiexec()
    timeline = tmp_path / "t.json"
    done = runs.lab("pi", "--trials", "900000", "--block-size", "30000", "--workers", "1",
                    "--schedule", "dynamic", "--explain", "--timeline", str(timeline),
                    "--json", ranks=ranks)
    assert done.returncode == 0, done.describe()
    fields = json.loads(done.stdout)
    assert fields["hits"] == mpi_lab.run("pi", params={"trials": 900_000,
                                                       "block_size": 30_000}).answer.hits
    assert [rank["rank"] for rank in fields["explain"]["per_rank"]] == list(range(ranks))
    trace = json.loads(timeline.read_text())
    assert {event["pid"] for event in trace["traceEvents"] if event["ph"] == "X"} == set(
        range(ranks))


def test_a_run_ended_by_its_deadline_says_what_it_measured(tmp_path: Path):
    timeline = tmp_path / "ended.json"
    done = runs.lab("pi", "--trials", str(10**12), "--block-size", "100000", "--backend",
                    "process-pool", "--workers", "2", "--explain", "--deadline", "1.5",
                    "--timeline", str(timeline), "--json")
    assert done.returncode == 124, done.describe()
    fields = json.loads(done.stdout)
    assert fields["explain"]["finished"] is False
    assert "compute" in fields["explain"]["estimated"]  # the map it was in, counted whole
    assert fields["explain"]["items"] > 0  # done before the deadline
    assert fields["explain"]["timeline"] == str(timeline)
    assert json.loads(timeline.read_text())["traceEvents"]


def _needs_mpiexec() -> None:
    from mpi_lab.cluster import launcher

    try:
        launcher.mpiexec_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
