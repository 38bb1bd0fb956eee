"""``advise``: the calibration's budget, the advice for workloads that pull different ways,
the command's JSON and errors, and --verify.

The workloads (``wl_advice_*.py``) are built so that one force dominates each: the GIL, a
released GIL, start-up, sending results, uneven items. Assertions are on what the advice is
(its flags, its schedule), never on how long anything took.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mpi_lab
from mpi_lab import backends, cli
from mpi_lab.core.errors import ConfigError

pytestmark = pytest.mark.timeout(120)

HERE = Path(__file__).parent
TWO_CORES = pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2,
                               reason="parallel advice needs 2 cores")


def spec(name: str) -> str:
    return str(HERE / f"wl_advice_{name}.py")


def flags_of(advice: mpi_lab.advice.recommend.Advice) -> backends.Flags:
    return backends.flags(advice.recommendation.backend)


@TWO_CORES
@pytest.mark.skipif(not backends.gil_enabled(), reason="a GIL build's advice")
def test_gil_bound_kernel_is_advised_processes_or_subinterpreters():
    advice = mpi_lab.advise(spec("cpu"))
    flags = flags_of(advice)
    assert flags.starts_processes or flags.subinterpreters, advice.reason
    assert advice.recommendation.workers > 1
    assert advice.reason.startswith(advice.recommendation.backend)


@TWO_CORES
def test_kernel_releasing_the_gil_may_run_on_threads():
    advice = mpi_lab.advise(spec("sleep"))
    assert advice.calibration.thread_parallel > 0.5
    assert flags_of(advice).in_process, advice.reason
    assert advice.recommendation.workers > 1


def test_tiny_items_stay_in_process():
    advice = mpi_lab.advise(spec("tiny"))
    assert flags_of(advice).in_process, advice.reason


def test_large_results_stay_in_process():
    advice = mpi_lab.advise(spec("large"))
    assert advice.calibration.result_bytes >= 4 << 20
    assert flags_of(advice).in_process, advice.reason


@TWO_CORES
def test_uneven_items_across_ranks_are_handed_out_dynamically():
    advice = mpi_lab.advise(spec("uneven"), ranks=2)
    assert advice.calibration.spread > 0.5
    across = [p for p in advice.predictions if p.ranks == 2]
    assert {p.schedule for p in across} == {"block", "cyclic", "dynamic"}
    assert min(across, key=lambda p: p.seconds).schedule == "dynamic"
    if advice.recommendation.ranks > 1:
        assert advice.recommendation.schedule == "dynamic"


@TWO_CORES
def test_free_threaded_build_advises_threads_for_pure_python(monkeypatch):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    advice = mpi_lab.advise(spec("cpu"), params={"items": 20})
    assert advice.calibration.gil is False
    assert advice.calibration.thread_parallel == 1.0
    assert flags_of(advice).in_process, advice.reason
    assert advice.recommendation.workers > 1


def test_every_prediction_is_a_point_the_lab_can_run():
    advice = mpi_lab.advise(spec("tiny"), ranks=3)
    names = {p.backend for p in advice.predictions}
    assert names <= set(advice.calibration.available)
    assert {p.ranks for p in advice.predictions} == {1, 3}
    for p in advice.predictions:
        assert p.seconds == pytest.approx(sum(p.terms.values()))
        assert 1 <= p.workers <= advice.calibration.cores
    seconds = [p.seconds for p in advice.predictions[1:]]
    assert seconds == sorted(seconds)


def test_calibration_keeps_to_its_budget_rule():
    advice = mpi_lab.advise(spec("cpu"), params={"items": 30, "loops": 100_000})
    calibration = advice.calibration
    # At most 10 % of the predicted serial time, or 5 s.
    assert calibration.budget == pytest.approx(
        min(0.1 * calibration.items * calibration.item_seconds, 5.0))
    # A step starts only while the budget lasts; the first ones are always needed.
    for step in calibration.steps:
        assert not step.optional or step.started_at < calibration.budget, step
    assert calibration.seconds == pytest.approx(
        sum(step.seconds for step in calibration.steps), abs=calibration.seconds)


def test_long_plan_caps_the_budget_at_five_seconds():
    advice = mpi_lab.advise(spec("sleep"), params={"items": 2000, "pause": 0.05})
    calibration = advice.calibration
    assert calibration.budget == 5.0
    longest = max(step.seconds for step in calibration.steps)
    assert calibration.seconds <= calibration.budget + longest
    assert "start process-pool x1" in {step.name for step in calibration.steps}


def test_bad_ranks_are_a_config_error():
    with pytest.raises(ConfigError):
        mpi_lab.advise(spec("tiny"), ranks=0)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_one_object_with_its_keys(capsys):
    code, out, err = run_cli(capsys, "advise", spec("tiny"), "--param", "items=500", "--json")
    assert code == 0
    found = json.loads(out)
    assert out.strip().count("\n") == 0
    assert set(found) >= {"recommendation", "predictions", "calibration"}
    assert set(found["recommendation"]) >= {"backend", "workers", "ranks", "schedule",
                                            "reason", "predicted_seconds"}
    assert len(found["predictions"]) >= len(found["calibration"]["available"])
    assert {"seconds", "budget_seconds", "steps"} <= set(found["calibration"])
    assert "advise:" in err  # the calibration's steps, on stderr only


def test_text_starts_with_the_recommendation(capsys):
    code, out, _ = run_cli(capsys, "advise", spec("tiny"))
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("advice: ")
    assert "predicted" in first


@pytest.mark.parametrize("args", [
    ["no_such_module_for_advice"],
    [str(HERE / "wl_advice_tiny.py:missing")],
    [str(HERE / "wl_advice_tiny.py"), "--param", "items"],
    [str(HERE / "wl_advice_tiny.py"), "--param", "colour=3"],
], ids=["module", "name", "param-form", "param-unknown"])
def test_bad_spec_or_param_exits_2_with_runs_line(capsys, args: list[str]):
    code, out, err = run_cli(capsys, "advise", *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    run_code, _, run_err = run_cli(capsys, "run", *args)
    assert (run_code, run_err) == (code, err)


def test_help_says_what_is_measured_and_assumed(capsys):
    code, out, _ = run_cli(capsys, "advise", "--help")
    assert code == 0
    assert "What is measured" in out
    assert "What the model assumes" in out


def test_verify_runs_the_best_three(capsys):
    code, out, _ = run_cli(capsys, "advise", spec("tiny"), "--param", "items=300", "--verify",
                           "--json")
    assert code == 0
    verified = json.loads(out)["verified"]
    assert len(verified) == 3
    assert all(row.get("measured_seconds", 0) > 0 for row in verified), verified
    first = json.loads(out)["recommendation"]
    assert (verified[0]["backend"], verified[0]["workers"]) == (first["backend"],
                                                                first["workers"])


def test_python_dash_m_stdout_is_json_only():
    done = subprocess.run([sys.executable, "-m", "mpi_lab", "advise", spec("tiny"), "--json"],
                          capture_output=True, text=True, timeout=60, check=False, cwd=HERE)
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), dict)


def test_a_kernel_that_mostly_waits_may_have_more_threads_than_cores():
    """Threads that sleep leave the cores free: the advice may take more of them than there
    are cores, never more than there are items."""
    from mpi_lab.core.machine import local_cores

    advice = mpi_lab.advise(str(Path(__file__).with_name("wl_advice_sleep.py")),
                            params={"items": 40})
    if local_cores() >= 16:
        pytest.skip("40 items: as many threads as cores already cover them")
    most = max(p.workers for p in advice.predictions if p.backend == "threads")
    assert local_cores() < most <= 40
