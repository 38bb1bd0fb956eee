"""``bench``: the matrix, its files (JSON, CSV, PNG), and the comparison with serial."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_lab.bench import matrix
from mpi_lab.local.timing import KINDS

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "mpi_lab", "bench", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)
    return done, out


def test_quick_bench_writes_every_file(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress bar, no stray line
    assert sorted(p.name for p in out.iterdir()) == [
        "breakdown-fractal.png", "breakdown-pi.png", "results.csv", "results.json",
        "results.md", "speedup.png", "timelines"]
    assert "| pi | serial | 1 | 1 |" in done.stdout
    serial = next(line for line in done.stdout.splitlines() if "| pi | serial | 1 | 1 |" in line)
    assert "| compute " in serial and ", wait+send+recv " in serial


def test_quick_bench_keeps_one_timeline_per_point(quick_run):
    """A Chrome trace per point, and its picture beside it when matplotlib is here."""
    _, out = quick_run
    ok = [r for r in json.loads((out / "results.json").read_text())["results"]
          if r["status"] == "ok"]
    traces = sorted(Path(r["timeline"]).name for r in ok)
    pictures = [] if importlib.util.find_spec("matplotlib") is None else [
        name.replace(".json", ".png") for name in traces]
    assert sorted(p.name for p in (out / "timelines").iterdir()) == sorted(traces + pictures)
    for result in ok:
        assert result["timeline"] == matrix.timeline_name(matrix.Measurement(**result))
        trace = json.loads((out / result["timeline"]).read_text())
        assert any(event["ph"] == "X" for event in trace["traceEvents"])


def test_quick_bench_explains_every_point(quick_run):
    """Each point's last repeat says where its time went, every part there and none
    negative; its answer, like the timed repeats', is serial's."""
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())["results"]
    serial = {r["workload"]: r["answer"] for r in results
              if r["backend"] == "serial" and r["workers"] == 1 and r["ranks"] == 1}
    for result in results:
        if result["status"] != "ok":
            assert result["explain"] is None and result["timeline"] is None
            continue
        assert result["answer"] == serial[result["workload"]]
        explain = result["explain"]
        assert set(explain["parts"]) == set(KINDS), result
        assert all(seconds >= 0 for seconds in explain["parts"].values()), result
        assert explain["seconds"] > 0


def test_quick_bench_json_schema(quick_run):
    _, out = quick_run
    report = json.loads((out / "results.json").read_text())
    assert {"date", "python", "gil", "mpi", "cpus"} <= report["context"].keys()
    assert report["settings"]["repeats"] >= 1
    statuses = {r["status"] for r in report["results"]}
    assert statuses <= {"ok", "skipped"}, [r for r in report["results"] if r["status"] == "failed"]
    for result in report["results"]:
        assert set(matrix.CSV_FIELDS) <= result.keys()
        if result["status"] == "ok":
            assert result["seconds"] > 0 and result["speedup"] > 0
            assert result["efficiency"] == pytest.approx(
                result["speedup"] / (result["workers"] * result["ranks"]))
            # The last repeat is explained, not timed (unless it is the only one).
            assert len(result["samples"]) == max(1, report["settings"]["repeats"] - 1)
        else:
            assert result["reason"]
    serial = [r for r in report["results"]
              if r["backend"] == "serial" and r["workers"] == 1 and r["ranks"] == 1]
    assert {r["workload"] for r in serial} == {"pi", "fractal"}
    assert any(r["ranks"] > 1 and r["status"] == "ok" for r in report["results"])


def test_quick_bench_csv_rows_match_json(quick_run):
    _, out = quick_run
    report = json.loads((out / "results.json").read_text())
    with (out / "results.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(report["results"])
    for row, result in zip(rows, report["results"], strict=True):
        assert (row["workload"], row["backend"], row["status"]) == (
            result["workload"], result["backend"], result["status"])
        assert int(row["workers"]) == result["workers"] and int(row["ranks"]) == result["ranks"]
        if result["seconds"] is not None:
            assert float(row["seconds"]) == pytest.approx(result["seconds"])
        if result["explain"] is not None:
            assert row["timeline"] == result["timeline"]
            assert {kind: float(row[f"{kind}_seconds"]) for kind in KINDS} == pytest.approx(
                result["explain"]["parts"])
        else:
            assert row["compute_seconds"] == row["timeline"] == ""


def test_speedup_png_decodes_with_its_size(quick_run):
    pytest.importorskip("matplotlib")
    from matplotlib import image

    _, out = quick_run
    pixels = image.imread(out / "speedup.png")
    assert pixels.shape[:2] == (420, 1100)  # 2 panels of 5.5 x 4.2 inches at 100 dpi
    for workload in ("pi", "fractal"):
        assert image.imread(out / f"breakdown-{workload}.png").shape[1] == 900  # 9 inches


def test_breakdown_has_a_bar_per_backend_at_its_widest_and_per_mpi_point():
    from mpi_lab.present import images

    def result(backend: str, workers: int, ranks: int = 1, workload: str = "pi",
               status: str = "ok") -> dict:
        explain = {"seconds": 1.0, "parts": dict.fromkeys(KINDS, 0.125)}
        return {"workload": workload, "backend": backend, "workers": workers, "ranks": ranks,
                "status": status, "explain": explain if status == "ok" else None}

    report = {"results": [
        result("serial", 1), result("threads", 1), result("threads", 4), result("threads", 2),
        result("asyncio", 2, status="failed"), result("serial", 1, ranks=2),
        result("serial", 1, workload="fractal")]}
    assert images.explained_workloads(report) == ["pi", "fractal"]
    assert [label for label, _ in images.breakdown_rows(report, "pi")] == [
        "serial", "threads \N{MULTIPLICATION SIGN}4 workers",
        "serial \N{MULTIPLICATION SIGN}2 ranks"]


def test_a_users_workload_names_its_timeline_with_safe_characters():
    result = matrix.Measurement("pkg.mod:walk", "process-pool", 4, 2, "ok")
    assert matrix.timeline_name(result) == "timelines/pkg.mod-walk-process-pool-w4-r2.json"


def test_table_notes_compute_and_overhead_shares():
    explain = {"seconds": 2.0, "parts": {**dict.fromkeys(KINDS, 0.0), "compute": 1.3,
                                         "start-up": 0.2, "sending": 0.1, "waiting": 0.2,
                                         "receiving": 0.1}}
    assert matrix.breakdown_note(explain) == "compute 65%, start-up 10%, wait+send+recv 20%"
    assert matrix.breakdown_note(None) == ""


def test_unavailable_or_unfit_backends_are_listed_as_skipped(monkeypatch):
    from mpi_lab.backends._base import Availability
    from mpi_lab.backends.threads import ThreadsBackend

    monkeypatch.setattr(ThreadsBackend, "availability",
                        classmethod(lambda cls: Availability(False, "switched off in a test")))
    points, skipped = matrix.plan(matrix.Settings(workloads=("pi", "fractal"), ranks=(2,)))
    assert matrix.Point("pi", "threads", 1) not in points
    reasons = {(s.workload, s.backend): s.reason for s in skipped}
    assert reasons[("pi", "threads")] == "switched off in a test"
    assert "subinterpreter" in reasons[("fractal", "interpreter-pool")]
    assert matrix.Point("pi", "auto", 1, 2) in points


def test_answer_differing_from_serial_fails_the_point():
    results = [
        matrix.Measurement("pi", "serial", 1, 1, "ok", seconds=2.0, answer="100"),
        # auto with one worker per rank runs serially too: not the baseline
        matrix.Measurement("pi", "serial", 1, 2, "ok", seconds=1.0, answer="100"),
        matrix.Measurement("pi", "threads", 2, 1, "ok", seconds=1.0, answer="100"),
        matrix.Measurement("pi", "asyncio", 2, 1, "ok", seconds=1.0, answer="99"),
    ]
    matrix.compare(results)
    assert results[0].speedup == 1.0
    assert results[1].speedup == 2.0 and results[1].efficiency == 1.0
    assert results[2].speedup == 2.0 and results[2].efficiency == 1.0
    assert results[3].status == "failed" and "differs from serial" in results[3].reason


@pytest.mark.parametrize(("code", "reason"), [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "killed by SIGSEGV (exit -11)"),
    ("raise SystemExit(3)", "exit 3"),
    ("import sys; sys.exit('Error: no such thing')", "Error: no such thing"),
    # Open MPI's notices end in a rule: the reason is the last line that says something.
    ("import sys; sys.stderr.write('---\\nprterun noticed a thing\\n---\\n'); sys.exit(1)",
     "prterun noticed a thing"),
    ("import sys; sys.stderr.write('Error: rank 1 failed\\n---\\nlater\\n---\\n'); sys.exit(1)",
     "Error: rank 1 failed"),
])
def test_failed_point_says_how_its_process_ended(monkeypatch, code: str, reason: str):
    monkeypatch.setattr(matrix, "command", lambda settings, point: (
        [sys.executable, "-c", code], dict(os.environ)))
    result = matrix.measure(matrix.Settings(repeats=1), matrix.Point("pi", "serial", 1))
    assert (result.status, result.reason) == ("failed", reason)
    assert result.explain is None and result.timeline is None
    # stderr is kept whole for the JSON; a signal or a bare exit code writes none.
    assert (reason in result.detail) == reason.startswith(("Error", "prterun"))


def test_a_point_whose_answer_differs_from_serial_fails():
    def point(backend: str, answer: str, seconds: float) -> matrix.Measurement:
        return matrix.Measurement("pi", backend, 2 if backend != "serial" else 1, 1, "ok",
                                 seconds=seconds, answer=answer)

    results = [point("serial", '{"hits": 1}', 1.0), point("threads", '{"hits": 1}', 0.5),
               point("process-pool", '{"hits": 2}', 0.4)]
    matrix.compare(results)
    assert [r.status for r in results] == ["ok", "ok", "failed"]
    assert results[1].speedup == pytest.approx(2.0)
    assert "differs from serial's" in results[2].reason and results[2].speedup is None


def test_the_matrix_runs_the_sizes_the_workloads_declare():
    from mpi_lab.workloads import fractal, pi

    # The seed's sizes, declared once by each workload.
    assert (pi.DEFAULTS["trials"], pi.DEFAULTS["block_size"]) == (10_000_000, 100_000)
    assert (fractal.DEFAULTS["height"], fractal.DEFAULTS["width"]) == (4000, 3000)
    assert fractal.DEFAULTS["maxiter"] == 20
    full, quick = matrix.Settings(), matrix.Settings.quick()
    assert full.workload_params("pi") == pi.DEFAULTS
    assert full.workload_params("fractal") == fractal.DEFAULTS
    assert quick.workload_params("pi") == {**pi.DEFAULTS, "trials": 1_000_000}
    assert quick.workload_params("fractal") == {**fractal.DEFAULTS, "height": 1000, "width": 750}
    assert "--param=trials=1000000" in quick.workload_args("pi")


def test_kernels_are_a_dimension_of_the_matrix(tmp_path: Path):
    """``--kernels``: each built-in once per kernel it declares, each row checked against
    serial with the same kernel; a kernel no workload has is refused."""
    settings = matrix.Settings.quick().with_kernels(["python", "numpy"])
    assert settings.workloads == ("pi[python]", "pi[numpy]", "fractal[python]", "fractal[numpy]")
    assert settings.workload_params("pi[numpy]")["kernel"] == "numpy"
    assert settings.workload_args("fractal[python]")[:2] == ["run", "fractal"]
    done = subprocess.run([sys.executable, "-m", "mpi_lab", "bench", "--quick", "--workloads",
                           "pi", "--kernels", "python,numpy", "--backends", "serial,thread-pool",
                           "--workers", "2", "--ranks", "1", "--repeats", "1", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    assert {(row["workload"], row["status"]) for row in rows} == {
        ("pi[python]", "ok"), ("pi[numpy]", "ok")}
    # Each kernel its own timeline (the kernel last) and its own breakdown picture.
    assert (tmp_path / "timelines" / "pi-thread-pool-w2-r1-numpy.json").is_file()
    assert {row["timeline"] for row in rows} >= {"timelines/pi-serial-w1-r1-python.json"}
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "breakdown-pi-numpy.png").is_file()
    refused = subprocess.run([sys.executable, "-m", "mpi_lab", "bench", "--kernels", "fortran"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "fortran" in refused.stderr
