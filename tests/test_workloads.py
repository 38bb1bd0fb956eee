"""User workloads on the contract (``examples.primes``, ``examples.random_walk`` and the tests'
own ``wl_words``): every backend agrees with serial, through ``mpi_lab.run`` and ``run --json``;
the failure rules of ``run``; the API with modules, specs, objects and ``__main__``; ``bench
--workload``.

The MPI side is in ``test_workloads_mpi.py``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import wl_faulty
import wl_saved
import wl_words
from procs import new_shm, shm_names, wait_session_empty
from wl_cases import (
    CASES,
    LAB_KEYS,
    RANK_KEYS,
    TESTS,
    clean_env,
    error_lines,
    expected_json,
    lab_run,
    one_json,
    same,
    serial_answer,
)

import mpi_lab
from mpi_lab import backends, cli
from mpi_lab.bench import matrix
from mpi_lab.core.errors import ConfigError, WorkerError
from mpi_lab.workloads.contract import Param

pytestmark = pytest.mark.timeout(120)

IN_PROCESS = [name for name in backends.NAMES if backends.backend_class(name).in_process]
OUT_OF_PROCESS = [name for name in backends.NAMES if not backends.backend_class(name).in_process]
# Subinterpreters: they cannot import NumPy.
SUBINTERPRETERS = [name for name in backends.NAMES if not backends.backend_class(name).runs_numpy]


def unavailable(name: str) -> str:
    """Why backend ``name`` cannot run here ("" if it can)."""
    status = backends.availability(name)
    return "" if status.available else f"{name} unavailable: {status.reason}"


def param(*values: object, backend: str, numpy: bool = False, id: str) -> object:
    """``values`` as a pytest param for a run on ``backend``, skipped with the reason where
    that backend cannot run it."""
    reason = unavailable(backend)
    if not reason and numpy and not backends.backend_class(backend).runs_numpy:
        reason = f"{backend} runs subinterpreters, which cannot import NumPy"
    return pytest.param(*values, marks=[pytest.mark.skip(reason=reason)] if reason else [],
                        id=id)


def backend_param(name: str) -> object:
    return param(name, backend=name, id=name)


# --- the serial answers are right (else agreeing with them proves little) --------------------

def test_serial_answers_are_right():
    assert serial_answer("primes") == 2262  # pi(20000), a known value
    walk = serial_answer("random_walk")
    assert walk.shape == (41,) and int(walk.sum()) == 4_000
    assert walk[20] > 0 and (walk > 0).sum() > 10  # spread around the centre
    words = wl_words.TEXT.split() * 3
    tally = serial_answer("words")
    assert sum(tally.counts.values()) == len(words) == 180
    assert tally.counts["it"] == tally.counts["was"] == 30
    assert tally.initials == "".join(words[k][0] for k in range(0, len(words), 4))
    assert tally.longest == "foolishness"
    letters = serial_answer("letters")
    assert letters == {
        "letters": 2 * len(wl_words.TEXT.replace(" ", "")),
        "vowels": 2 * sum(wl_words.TEXT.count(v) for v in "aeiou"),
        "in_order": True,
        "last_letters": "".join(word[-1] for word in wl_words.TEXT.split() * 2),
    }


# --- every backend, in process through the API ----------------------------------------------

@pytest.mark.parametrize(("key", "backend"), [
    param(key, name, backend=name, numpy=CASES[key].numpy, id=f"{key}-{name}")
    for key in CASES for name in backends.NAMES
])
def test_every_backend_gives_the_serial_answer(key: str, backend: str):
    case = CASES[key]
    report = mpi_lab.run(case.spec, params=case.params, backend=backend, workers=2, mpi=False)
    assert report is not None
    assert same(report.answer, serial_answer(key)), (report.answer, serial_answer(key))
    assert report.backend == backend
    assert (report.ranks, report.schedule) == (1, None)
    assert report.params == case.full
    assert [rank.items for rank in report.per_rank] == [case.plan_length()]
    assert report.workers == report.per_rank[0].workers
    assert 1 <= report.workers <= 2
    assert report.seconds > 0


@pytest.mark.parametrize("backend", [backend_param(name) for name in SUBINTERPRETERS])
def test_numpy_workload_is_refused_by_subinterpreters(backend: str):
    case = CASES["random_walk"]
    with pytest.raises(ConfigError, match="NumPy"):
        mpi_lab.run(case.spec, params=case.params, backend=backend, workers=2, mpi=False)


def test_auto_backend_runs_each_workload():
    for key, case in CASES.items():
        report = mpi_lab.run(case.spec, params=case.params, workers=2, mpi=False)
        assert same(report.answer, serial_answer(key)), key
        cls = backends.backend_class(report.backend)  # a real backend, not "auto"
        assert cls.runs_numpy or not case.numpy, (key, report.backend)


# --- the command line, in a subprocess: the module reaches workers in other processes --------

CLI_RUNS = [
    *[param(key, "process-pool", ("--start-method", "spawn"), backend="process-pool",
            id=f"{key}-process-pool-spawn") for key in CASES],
    *[param(key, name, (), backend=name, id=f"{key}-{name}") for name in SUBINTERPRETERS
      for key in CASES if not CASES[key].numpy],
]


def _cli_run(key: str, backend: str, extra: tuple[str, ...] = ()) -> dict:
    case = CASES[key]
    done = lab_run("run", case.spec, *case.cli_params(), "--backend", backend, "--workers", "2",
                   *extra, "--json", "--no-mpi", cwd=case.cwd)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return one_json(done.stdout)


@pytest.mark.parametrize(("key", "backend", "extra"), CLI_RUNS)
def test_run_json_in_a_subprocess(key: str, backend: str, extra: tuple[str, ...]):
    case = CASES[key]
    fields = _cli_run(key, backend, extra)
    assert fields.keys() >= LAB_KEYS
    assert fields["workload"] == case.spec
    assert fields["params"] == case.full
    assert fields["answer"] == expected_json(key)
    assert (fields["backend"], fields["workers"], fields["ranks"]) == (backend, 2, 1)
    assert fields["schedule"] is None
    assert isinstance(fields["seconds"], float) and fields["seconds"] > 0
    assert [rank.keys() for rank in fields["per_rank"]] == [RANK_KEYS]
    assert [rank["items"] for rank in fields["per_rank"]] == [case.plan_length()]
    assert fields["per_rank"][0]["workers"] == 2 and fields["per_rank"][0]["rank"] == 0


def test_json_falls_back_to_repr_and_puts_dict_fields_beside(capsys):
    """A ``Tally`` answer is its repr in JSON; a dict answer's fields also sit at the top,
    the parameters too, never replacing the lab's keys."""
    code = cli.main(["run", "wl_words:LETTERS", "--param", "repeat=2", "--backend", "serial",
                     "--json", "--no-mpi"])
    fields = one_json(capsys.readouterr().out)
    assert code == 0
    assert fields["answer"] == serial_answer("letters")
    for name, value in serial_answer("letters").items():
        assert fields[name] == value
    assert fields["repeat"] == 2 and fields["text"] == wl_words.TEXT
    code = cli.main(["run", "wl_words", "--param", "per_item=4", "--param", "repeat=3",
                     "--backend", "threads", "--json", "--no-mpi"])
    fields = one_json(capsys.readouterr().out)
    assert code == 0
    assert fields["answer"] == repr(serial_answer("words"))
    assert fields["answer"].startswith("Tally(")


def test_text_output_uses_show_with_the_params(capsys):
    code = cli.main(["run", "wl_words", "--param", "per_item=4", "--param", "repeat=3",
                     "--backend", "serial", "--no-mpi"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "180 words, 4 an item; longest foolishness"
    assert "backend serial" in out


def test_object_default_schedule_is_read():
    from mpi_lab.local.jobs import Job

    assert Job.of("wl_words:LETTERS").default_schedule == "cyclic"
    assert Job.of("wl_words").default_schedule == "block"
    assert Job.of("examples.primes").default_schedule == "dynamic"


# --- failure rules of run --------------------------------------------------------------------

def assert_one_error_line(done: subprocess.CompletedProcess, code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    errors = error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return errors[0]


BAD_INPUTS = [
    (("no_such_module_for_mpi_lab",), "no module named 'no_such_module_for_mpi_lab'"),
    (("examples.no_such_module",), "no module named 'examples.no_such_module'"),
    (("examples.primes:nope",), "has no 'nope'"),
    (("wl_words:TEXT",), "needs callables plan, kernel, combine; it has no plan, kernel, combine"),
    ((":x",), "expected MODULE, MODULE:NAME or FILE.py[:NAME]"),
    (("no_such_file.py",), "no such file 'no_such_file.py'"),
    (("examples.primes", "--param", "limit"), "--param 'limit': expected KEY=VALUE"),
    (("examples.primes", "--param", "limit=1"), "limit must be at least 2 (got 1)"),
    (("examples.primes", "--param", "colour=1"), "plan() has no parameter 'colour'"),
    (("examples.primes", "--param", "limt=1"), "no parameter 'limt' (did you mean 'limit'?)"),
    # A value plan() cannot use: the parameter and its value named, whatever plan() said.
    (("examples.primes", "--param", "limit=abc"),
     "limit='abc': a str where plan() defaults to 1000000"),
    (("examples.random_walk", "--param", "bins=4"), "bins must be odd"),
    (("wl_words", "--param", "per_item=0"), "per_item must be at least 1 (got 0)"),
]


@pytest.mark.parametrize(("args", "says"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], says: str):
    done = lab_run("run", *args, env=clean_env({"PYTHONPATH": str(TESTS)}))
    line = assert_one_error_line(done, 2)
    assert says in line
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("no_such_module_for_mpi_lab",),
                                  ("examples.primes", "--param", "limit")])
def test_bad_spec_with_json_prints_the_error_object(args: tuple[str, ...]):
    done = lab_run("run", *args, "--json")
    assert done.returncode == 2
    fields = one_json(done.stdout)
    assert (fields["exit_code"], fields["traceback"]) == (2, None)


FAILURE = "item 7 (('row', 7, 7)): ZeroDivisionError: row 7 divides by zero"


@pytest.mark.parametrize("backend", ["serial", "thread-pool", "process-pool", "shared-memory"])
def test_a_result_that_does_not_fit_its_layout_names_the_item(backend: str):
    with pytest.raises(WorkerError) as info:
        mpi_lab.run("wl_faulty:MISFIT", backend=backend, workers=2, mpi=False)
    assert str(info.value).startswith(
        "worker failed on item 7 (('row', 7, 7)): its result does not fit its result_layout")


@pytest.mark.parametrize("backend", [backend_param(name) for name in backends.NAMES])
def test_kernel_exception_names_the_item_through_the_api(backend: str):
    with pytest.raises(WorkerError) as info:
        mpi_lab.run("wl_faulty", backend=backend, workers=2, mpi=False)
    assert FAILURE in str(info.value)
    assert wl_faulty.RAISING_LINE in info.value.remote_traceback
    assert "ZeroDivisionError" in info.value.remote_traceback


def test_kernel_exception_exits_1_with_one_line():
    done = lab_run("run", "wl_faulty", "--workers", "2", cwd=TESTS)
    line = assert_one_error_line(done, 1)
    assert FAILURE in line
    assert done.stdout == ""


def test_kernel_exception_with_traceback_shows_the_raising_line():
    done = lab_run("run", "wl_faulty", "--workers", "2", "--traceback", cwd=TESTS)
    assert done.returncode == 1
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and FAILURE in errors[0]
    assert wl_faulty.RAISING_LINE in done.stderr
    assert f"{TESTS / 'wl_faulty.py'}\", line" in done.stderr


def test_kernel_exception_with_json_is_one_object():
    done = lab_run("run", "wl_faulty", "--workers", "2", "--json", cwd=TESTS)
    assert done.returncode == 1
    fields = one_json(done.stdout)
    assert FAILURE in fields["error"]
    assert fields["exit_code"] == 1
    assert fields["traceback"] is not None and wl_faulty.RAISING_LINE in fields["traceback"]
    assert len(error_lines(done.stderr)) == 1


@pytest.mark.parametrize(("backend", "spec"), [
    ("process-pool", "wl_faulty"), ("shared-memory", "wl_faulty"),
    ("shared-memory", "wl_faulty:LAID_OUT"),  # results in slots of a shared block
])
def test_kernel_failure_leaves_nothing_behind(backend: str, spec: str):
    before = shm_names()
    proc = subprocess.Popen([sys.executable, "-m", "mpi_lab", "run", spec, "--backend", backend,
                             "--workers", "2"], cwd=TESTS, env=clean_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 1, err
    assert FAILURE in err
    assert wait_session_empty(proc.pid) == []  # no worker, forkserver or resource tracker
    # Another run may hold entries for a moment; ours would stay for ever. (Open MPI's are
    # counted in the test's own folder: conftest.)
    assert new_shm(before) == []


# --- the API ---------------------------------------------------------------------------------

def test_api_with_a_module_object():
    import examples.primes

    case = CASES["primes"]
    report = mpi_lab.run(examples.primes, params=case.params, backend="thread-pool", workers=2)
    assert isinstance(report, mpi_lab.Report)
    assert report.answer == serial_answer("primes")
    assert report.workload == "examples.primes"
    assert report.backend == "thread-pool" and report.params == case.full
    assert isinstance(report.seconds, float) and report.seconds > 0
    assert isinstance(report.per_rank[0], mpi_lab.RankReport)
    assert report.per_rank[0].items == case.plan_length()


def test_api_with_a_spec_string_and_an_object():
    by_spec = mpi_lab.run("wl_words:LETTERS", params={"repeat": 2}, backend="threads", workers=2)
    by_object = mpi_lab.run(wl_words.LETTERS, params={"repeat": 2}, backend="asyncio", workers=2)
    assert by_spec.answer == by_object.answer == serial_answer("letters")
    assert by_spec.workload == "wl_words:LETTERS"
    assert by_object.backend == "asyncio" and by_spec.backend == "threads"
    assert [r.items for r in by_object.per_rank] == [2 * len(wl_words.TEXT.split())]


class Squares:
    """A workload defined in the test module itself; combine names a plan parameter, and the
    answer has a field named like a lab key."""

    def plan(self, n: int = 50, chunk: int = 7) -> list[range]:
        return [range(start, min(start + chunk, n)) for start in range(0, n, chunk)]

    def kernel(self, numbers: range) -> int:
        return sum(k * k for k in numbers)

    def combine(self, results: list[int], n: int = 50) -> dict[str, int | str]:
        return {"n": n, "sum": sum(results), "backend": "the answer's own"}


@pytest.mark.parametrize("backend", [backend_param(name) for name in IN_PROCESS])
def test_object_in_the_test_module_runs_in_process(backend: str):
    report = mpi_lab.run(Squares(), params={"n": 60}, backend=backend, workers=2)
    assert report.answer == {"n": 60, "sum": 59 * 60 * 119 // 6, "backend": "the answer's own"}
    fields = report.to_dict()
    assert fields["backend"] == backend  # the lab's key wins over the answer's field
    assert fields["answer"]["backend"] == "the answer's own"
    assert fields["params"] == {"n": 60, "chunk": 7} and fields["sum"] == report.answer["sum"]


MAIN_SCRIPT = '''\
import json, sys, time
import mpi_lab
from mpi_lab.core.errors import ConfigError


def plan(n=30):
    return list(range(n))


def kernel(x):
    return x * x


def combine(results):
    return sum(results)


class Squares:
    plan = staticmethod(plan)

    def kernel(self, x):
        return x * x

    def combine(self, results):
        return sum(results)


# No "if __name__ == '__main__'": a worker that re-imported this script would run it again.
for backend in sys.argv[1:]:
    for target, what in ((Squares(), "object"), (sys.modules[__name__], "module")):
        started = time.monotonic()
        try:
            mpi_lab.run(target, backend=backend, workers=2)
            outcome = {"error": None}
        except ConfigError as exc:
            outcome = {"error": str(exc)}
        outcome.update(backend=backend, what=what, seconds=time.monotonic() - started)
        print(json.dumps(outcome), flush=True)
report = mpi_lab.run(Squares(), backend="auto", workers=2)
print(json.dumps({"auto": report.backend, "answer": report.answer, "why": report.backend_why}))
'''


def test_kernel_in_main_is_refused_out_of_process_and_auto_stays_in(tmp_path: Path):
    script = tmp_path / "mywork_script.py"
    script.write_text(MAIN_SCRIPT)
    refused = [name for name in OUT_OF_PROCESS if not unavailable(name)]
    done = subprocess.run([sys.executable, str(script), *refused], capture_output=True,
                          text=True, timeout=60, env=clean_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 2 * len(refused) + 1, done.stdout
    for outcome in lines[:-1]:
        assert outcome["error"] is not None, outcome
        assert "__main__" in outcome["error"]
        if backends.reaches_main(outcome["backend"]):
            # 3.14+ subinterpreters would run this unguarded script again in each worker.
            assert "if __name__ == \"__main__\":" in outcome["error"]
        else:
            assert "move plan, kernel and combine into a module" in outcome["error"]
        assert outcome["seconds"] < 5
    auto = lines[-1]
    assert auto["answer"] == sum(x * x for x in range(30))
    assert backends.backend_class(auto["auto"]).in_process, auto


GUARDED_MAIN_SCRIPT = '''\
import json, sys
import mpi_lab
from mpi_lab.core.errors import ConfigError

OFFSET = 3  # a global of __main__ the kernel reads: a worker must run this script to find it


def plan(n=40):
    return list(range(n))


def kernel(x):
    return x * x + OFFSET


def combine(results):
    return sum(results)


if __name__ == "__main__":
    for backend in sys.argv[1:]:
        try:
            report = mpi_lab.run(sys.modules[__name__], backend=backend, workers=2)
            outcome = {"answer": report.answer, "backend": report.backend}
        except ConfigError as exc:
            outcome = {"error": str(exc), "backend": backend}
        print(json.dumps(outcome), flush=True)
'''


def test_a_guarded_scripts_kernel_runs_where_this_python_can_run_it(tmp_path: Path):
    """Subinterpreters run a guarded script's own functions on 3.14+ (gh-133485), and auto
    then chooses them for pure Python; before, and for worker processes, they are refused."""
    script = tmp_path / "guarded_script.py"
    script.write_text(GUARDED_MAIN_SCRIPT)
    names = [name for name in backends.NAMES if not unavailable(name)]
    done = subprocess.run([sys.executable, str(script), *names, "auto"], capture_output=True,
                          text=True, timeout=90, env=clean_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    outcomes = {line["backend"] if "error" in line else line["backend"]: line
                for line in map(json.loads, done.stdout.splitlines())}
    expected = sum(x * x + 3 for x in range(40))
    for name in names:
        outcome = outcomes[name]
        if backends.reaches_main(name):
            assert outcome.get("answer") == expected, outcome
        else:
            assert "move plan, kernel and combine into a module" in outcome["error"], outcome
    chosen = [line for line in map(json.loads, done.stdout.splitlines())][-1]
    assert chosen["answer"] == expected
    assert backends.reaches_main(chosen["backend"]), chosen
    assert backends.flags(chosen["backend"]).subinterpreters == (
        sys.version_info >= (3, 14)), chosen


# --- declared parameters and the save hook (wl_saved) ------------------------------------------

def test_declared_parameters_and_save_through_run(capsys, tmp_path: Path):
    target = tmp_path / "sum.txt"
    code = cli.main(["run", "wl_saved", "--param", "unit='ten'", "--output", str(target),
                     "--backend", "thread-pool", "--workers", "2", "--json", "--no-mpi"])
    fields = one_json(capsys.readouterr().out)
    assert code == 0
    # n: the declared default, which plan() itself does not give.
    assert (fields["n"], fields["unit"], fields["output"]) == (50, "ten", str(target))
    assert fields["answer"] == wl_saved.expected(unit="ten")
    assert target.read_text() == f"{wl_saved.expected(unit='ten')} tens of the squares below 50\n"
    code = cli.main(["run", "wl_saved", "--param", "n=4", "--output", str(target), "--no-mpi"])
    out = capsys.readouterr().out
    assert code == 0 and f"saved {target}" in out.splitlines()
    assert target.read_text() == "14 ones of the squares below 4\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sum.txt"]


def test_declared_parameters_and_save_through_the_api(tmp_path: Path):
    target = tmp_path / "sum.txt"
    report = mpi_lab.run("wl_saved", params={"n": 6}, backend="serial", mpi=False,
                         output=target)
    assert report.answer == wl_saved.expected(n=6) and report.params == {"n": 6, "unit": "one"}
    assert report.extra["output"] == str(target)
    assert target.read_text() == "55 ones of the squares below 6\n"
    # The hook refuses the path before anything runs: nothing computed, nothing written.
    with pytest.raises(ConfigError, match=r"expected a \.txt file"):
        mpi_lab.run("wl_saved", backend="serial", mpi=False, output=tmp_path / "sum.csv")
    with pytest.raises(ConfigError, match="no save hook"):
        mpi_lab.run("wl_words", backend="serial", mpi=False, output=tmp_path / "words.txt")
    assert [p.name for p in tmp_path.iterdir()] == ["sum.txt"]


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--output", "sum.csv"], 2, "output 'sum.csv': expected a .txt file"),
    (["--output", "sum.txt", "--param", "unit='yards'"], 2, "unit: 'yards'"),
    (["--output", "broken.txt"], 1, "wl_saved: save failed: RuntimeError: disk on fire"),
], ids=["refused suffix", "bad param", "failing save"])
def test_a_refused_or_failing_save_is_one_line_and_leaves_no_file(
        capsys, monkeypatch, tmp_path: Path, args: list[str], code: int, says: str):
    def on_fire(answer: int, path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("disk on fire")

    monkeypatch.chdir(tmp_path)
    if "broken.txt" in args:
        monkeypatch.setattr(wl_saved, "save", on_fire)
    assert cli.main(["run", "wl_saved", *args, "--backend", "serial", "--no-mpi"]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and says in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_declaration_that_disagrees_with_plan_is_refused():
    declares = SimpleNamespace(
        plan=lambda n=3: list(range(n)), kernel=abs, combine=sum,
        parameters=(Param("n", 4, "Items."),))
    with pytest.raises(ConfigError, match=r"'n' is declared with default 4.*defaults to 3"):
        mpi_lab.run(declares, backend="serial", mpi=False)
    unknown = SimpleNamespace(plan=lambda n=3: list(range(n)), kernel=abs, combine=sum,
                              parameters=(Param("m", 4),))
    with pytest.raises(ConfigError, match="declares parameter 'm'"):
        mpi_lab.run(unknown, backend="serial", mpi=False)


def test_bench_asks_the_workload_for_its_sizes():
    assert matrix.sizes("wl_saved") == {"n": 50, "unit": "one"}
    assert matrix.sizes("wl_saved", quick=True) == {"n": 5, "unit": "one"}
    assert matrix.sizes("wl_words") == {}  # nothing declared: plan's own defaults


# --- bench --workload -------------------------------------------------------------------------

TIMES = "\N{MULTIPLICATION SIGN}"  # bench's speed-up suffix
BENCH_PARAMS = ["--param", "walkers=4000", "--param", "batch=500", "--param", "steps=100"]


def table_rows(stdout: str, workload: str) -> list[dict[str, str]]:
    """bench's Markdown rows of ``workload``, by column."""
    names = ("workload", "backend", "workers", "ranks", "seconds", "speedup", "efficiency",
             "note")
    return [dict(zip(names, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
            for line in stdout.splitlines() if line.startswith(f"| {workload} |")]


@pytest.mark.timeout(300)
def test_bench_of_a_numpy_workload(tmp_path: Path):
    # --out writes a PNG too: only where matplotlib is (else the table alone is checked).
    out = ["--out", str(tmp_path)] if importlib.util.find_spec("matplotlib") else []
    done = lab_run("bench", "--workload", "examples.random_walk", *BENCH_PARAMS, "--repeats",
                   "1", "--ranks", "2", "--workers", "1", *out, timeout=240)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout, "examples.random_walk")
    assert not [row for row in rows if row["note"].startswith("failed")], rows
    local = {row["backend"]: row for row in rows if row["ranks"] == "1"}
    assert sorted(local) == sorted(backends.NAMES)  # every backend: measured or skipped
    for name in backends.NAMES:
        row, cls = local[name], backends.backend_class(name)
        if not cls.availability().available:
            assert row["note"] == f"skipped: {cls.availability().reason}", row
        elif not cls.runs_numpy:
            assert row["note"].startswith("skipped: ") and "NumPy" in row["note"], row
            assert row["seconds"] == ""
        else:
            assert float(row["seconds"]) > 0 and row["speedup"].endswith(TIMES), row
    assert [float(row["seconds"]) > 0 for row in rows if row["ranks"] == "2"] == [True]
    if not out:
        return
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert len(results) == len(rows)
    ok = [r for r in results if r["status"] == "ok"]
    assert len({r["answer"] for r in ok}) == 1, {r["backend"]: r["answer"] for r in ok}
    # The answer they agree on is the workload's (its describe, or the digest of that).
    import examples.random_walk

    walk = mpi_lab.run("examples.random_walk", backend="serial", mpi=False,
                       params={"walkers": 4000, "batch": 500, "steps": 100})
    text = json.dumps(examples.random_walk.describe(walk.answer), sort_keys=True)
    assert ok[0]["answer"] in (text, "sha256:" + hashlib.sha256(text.encode()).hexdigest())


def test_bench_table_without_a_serial_baseline(tmp_path: Path):
    results = [
        matrix.Measurement("w", "serial", 1, 1, "failed", reason="Error: serial broke"),
        matrix.Measurement("w", "threads", 2, 1, "ok", seconds=0.5, samples=[0.5], answer="7"),
        matrix.Measurement("w", "serial", 1, 2, "ok", seconds=0.25, samples=[0.25], answer="7"),
        matrix.Measurement("w", "interpreters", 2, 1, "skipped", reason="no subinterpreters"),
        matrix.Measurement("v", "serial", 1, 1, "ok", seconds=1.0, samples=[1.0], answer="1"),
        matrix.Measurement("v", "threads", 2, 1, "ok", seconds=0.5, samples=[0.5], answer="1"),
    ]
    matrix.compare(results)
    assert [r.status for r in results] == ["failed", "ok", "ok", "skipped", "ok", "ok"]
    assert [r.speedup for r in results[:4]] == [None] * 4
    assert results[5].speedup == 2.0  # another workload's baseline still counts
    report = {"context": {}, "settings": {}, "results": [asdict(r) for r in results]}
    lines = matrix.table(report)
    rows = lines[2:]
    assert len(rows) == len(results)
    for row, result in zip(rows, results, strict=True):
        assert f"| {result.workload} | {result.backend} | {result.workers} | {result.ranks} |" \
            in row
    assert "failed: Error: serial broke" in rows[0]
    assert "0.500" in rows[1] and "no serial baseline" in rows[1]
    assert "0.250" in rows[2] and "no serial baseline" in rows[2]
    assert "skipped: no subinterpreters" in rows[3]
    assert f"2.00{TIMES}" in rows[5]
    pytest.importorskip("matplotlib")
    written = matrix.write(report, tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in tmp_path.iterdir())
    assert (tmp_path / "results.md").read_text().splitlines() == lines


# --- a kernel module a subinterpreter cannot load ------------------------------------------------

@pytest.mark.timeout(60)
def test_kernel_module_that_imports_numpy_fails_fast_in_a_subinterpreter_pool():
    if reason := unavailable("interpreter-pool"):
        pytest.skip(reason)
    started = time.monotonic()
    done = lab_run("run", "wl_numpy_top", "--backend", "interpreter-pool", "--workers", "1",
                   "--deadline", "4", cwd=TESTS)
    seconds = time.monotonic() - started
    assert done.returncode == 2, done.stderr  # not 124: the deadline never had to end it
    assert len(error_lines(done.stderr)) == 1, done.stderr
    assert "numpy" in done.stderr.lower()
    assert seconds < 4


def test_a_value_outside_declared_choices_is_a_bad_input(capsys):
    code = cli.main(["run", "wl_saved", "--param", "unit='hundred'", "--backend", "serial"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unit: 'hundred'" in err and "one" in err and "ten" in err
    assert len(err.strip().splitlines()) == 1
