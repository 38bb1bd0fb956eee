"""One run path: ``mpi_lab.run`` (scripts, notebooks) and the CLI give the same guarantees,
because the CLI calls it. Without MPI here; ``test_scripts_mpi.py`` has the same under
``mpiexec``.

Each case from issue 19: options checked once, where they enter; a script without a main guard;
results and items that cannot cross to a worker; NumPy in a subinterpreter; the first failure
stopping a pool; the words of every exit (``--json`` for 124 and 130, parameters, file specs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import runs
import wl_words
from procs import new_shm, shm_names, wait_session_empty

import mpi_lab
from mpi_lab import backends, options
from mpi_lab.core.errors import ConfigError, DeadlinePassed, Interrupted, WorkerError
from mpi_lab.local import mainguard

pytestmark = pytest.mark.timeout(120)

OUT_OF_PROCESS = [name for name in backends.NAMES if not backends.backend_class(name).in_process]
IN_PROCESS = backends.in_process_names()
FAST = 2.0  # seconds: a failure ends a run that long after it at most


def available(*names: str) -> list[object]:
    """``names`` as params, skipped with the reason where a backend cannot run here."""
    params = []
    for name in names:
        status = backends.availability(name)
        marks = [] if status.available else [pytest.mark.skip(reason=status.reason)]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


# -- one check per option -------------------------------------------------------------------

@pytest.mark.parametrize(("given", "cli"), [
    ({"workers": 0}, ["--workers", "0"]),
    ({"backend": "gpu"}, ["--backend", "gpu"]),
    ({"schedule": "random"}, ["--schedule", "random"]),
    ({"deadline": -1}, ["--deadline", "-1"]),
    ({"start_method": "teleport"}, ["--start-method", "teleport"]),
])
def test_an_option_is_refused_alike_from_python_and_the_command_line(given: dict, cli: list):
    with pytest.raises(ConfigError) as refused:
        mpi_lab.run("wl_words", **given)
    assert refused.value.exit_code == 2
    done = runs.lab("pi", "--trials", "1000", *cli)
    assert done.returncode == 2, done.describe()
    assert str(refused.value) in done.stderr  # the same check said it


def test_options_are_typed_and_checked_as_they_are_made():
    made = options.RunOptions(workers="3", deadline="2.5")
    assert (made.workers, made.deadline, made.backend) == (3, 2.5, "auto")
    with pytest.raises(ConfigError, match="workers"):
        options.RunOptions(workers=True)


# -- ends that are the API's as much as the CLI's -------------------------------------------

def test_deadline_from_python_raises_with_the_cli_exit_code():
    started = time.monotonic()
    with pytest.raises(DeadlinePassed) as ended:
        mpi_lab.run("pi", params={"trials": 10**12}, backend="serial", deadline=1)
    assert ended.value.exit_code == 124
    assert "deadline of 1 s passed" in ended.value.line
    assert time.monotonic() - started < 1 + FAST


@pytest.mark.parametrize("backend", ["thread-pool", "process-pool"])
def test_a_deadline_that_strikes_inside_a_lock_still_ends_as_a_deadline(backend: str,
                                                                        monkeypatch):
    """The deadline is raised in the main thread wherever it is: struck between a Condition's
    release and its re-taking (rare: CI met it once), the lock's RuntimeError comes out,
    carrying the DeadlinePassed as its context. The run ends as a deadline all the same, not
    as an item that could not be sent."""
    from concurrent.futures import Future

    result = Future.result

    def struck_in_the_lock(self: Future, timeout: float | None = None) -> object:
        try:
            return result(self, timeout)
        except DeadlinePassed:
            raise RuntimeError("cannot release un-acquired lock") from None

    monkeypatch.setattr(Future, "result", struck_in_the_lock)
    with pytest.raises(DeadlinePassed) as ended:
        mpi_lab.run("pi", params={"trials": 10**12}, backend=backend, workers=2, deadline=1)
    assert ended.value.exit_code == 124


def test_a_kernel_that_turns_the_deadline_into_its_own_error_still_ends_at_the_deadline(
        tmp_path: Path):
    """A kernel (in the main thread, on serial) whose clean-up raises as the deadline strikes:
    the run ended by its deadline, not by that kernel's failure."""
    spec = tmp_path / "wl_cleanup.py"
    spec.write_text(
        "import time\n"
        "def plan():\n    return list(range(4))\n"
        "def kernel(item):\n"
        "    try:\n        time.sleep(60)\n"
        "    finally:\n        raise OSError('clean-up failed')\n"
        "def combine(results):\n    return len(results)\n")
    with pytest.raises(DeadlinePassed):
        mpi_lab.run(str(spec), backend="serial", deadline=1)


def test_a_deadline_off_the_main_thread_is_refused():
    import threading

    caught: list[BaseException] = []

    def run() -> None:
        try:
            mpi_lab.run("pi", params={"trials": 1000}, deadline=5)
        except ConfigError as exc:
            caught.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert len(caught) == 1 and "main thread" in str(caught[0])


INTERRUPTED_SCRIPT = """\
import sys, mpi_lab
from mpi_lab.core.errors import Interrupted
if __name__ == "__main__":
    try:
        mpi_lab.run("pi", params={"trials": 10**12}, backend=sys.argv[1], workers=2)
    except KeyboardInterrupt as exc:  # what a script or notebook catches for Ctrl-C
        print(type(exc).__name__, isinstance(exc, Interrupted), exc.exit_code, flush=True)
"""


@pytest.mark.parametrize("backend", available("process-pool", "thread-pool"))
def test_ctrl_c_in_a_script_is_a_keyboard_interrupt_and_leaves_nothing(backend: str,
                                                                        tmp_path: Path):
    path = tmp_path / "interrupted.py"
    path.write_text(INTERRUPTED_SCRIPT)
    before = shm_names()
    proc = subprocess.Popen([sys.executable, str(path), backend], cwd=tmp_path, env=runs.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.split() == ["Interrupted", "True", "130"]
    assert wait_session_empty(proc.pid) == []
    assert new_shm(before) == []


UNCAUGHT = """\
import sys, mpi_lab
if __name__ == "__main__":
    deadline = float(sys.argv[2]) if len(sys.argv) > 2 else None
    mpi_lab.run("pi", params={"trials": 10**12}, backend=sys.argv[1], workers=2,
                deadline=deadline)
"""
ENDED = {"SIGINT": (130, "Interrupted (SIGINT) after "), "SIGTERM": (143, "Terminated (SIGTERM)"),
         "deadline": (124, "Error: deadline of 2 s passed")}


@pytest.mark.parametrize("how", list(ENDED))
def test_a_script_a_signal_or_its_deadline_ends_exits_as_the_cli_does(how: str, tmp_path: Path):
    """Uncaught, a run's end ends the script with the CLI's line and exit code, not Python's
    traceback and exit 1; nothing is left behind."""
    path = tmp_path / "ended.py"
    path.write_text(UNCAUGHT)
    before = shm_names()
    args = [sys.executable, str(path), "process-pool", *(["2"] if how == "deadline" else [])]
    proc = subprocess.Popen(args, cwd=tmp_path, env=runs.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    if how != "deadline":
        time.sleep(2.0)
        os.killpg(proc.pid, getattr(signal, how))
    _, err = proc.communicate(timeout=30)
    code, line = ENDED[how]
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [err.strip()] and err.startswith(line), err
    assert wait_session_empty(proc.pid) == []
    assert new_shm(before) == []


def test_a_signal_the_process_ignores_stays_ignored():
    """A background job's SIGINT (or nohup's SIGHUP) is ignored: the run goes on to its
    deadline."""
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a child inherits, as a shell's
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mpi_lab", "pi", "--trials",
                                 str(10**12), "--deadline", "3"], env=runs.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 124, err


# -- a script without a main guard ----------------------------------------------------------

UNGUARDED = """\
import mpi_lab

report = mpi_lab.run("examples.primes", params={"limit": 20_000}, backend=BACKEND, workers=2)
print(report.answer)
"""


def starting(method: str) -> str:
    """``UNGUARDED`` with workers started by ``method``."""
    return UNGUARDED.replace("workers=2)", f"workers=2, start_method={method!r})")


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
@pytest.mark.parametrize("backend", ["process-pool", "shared-memory"])
def test_a_script_without_main_guard_stops_in_one_line(backend: str, method: str,
                                                       tmp_path: Path):
    """Workers started by spawn or forkserver import the script again (fork's do not)."""
    before = shm_names()
    done = runs.script(tmp_path / "unguarded.py", starting(method).replace("BACKEND",
                                                                           repr(backend)))
    assert done.returncode != 0, done.describe()
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mpi_lab.core.errors.ConfigError") and "__name__" in last, done.stderr
    assert "unguarded.py" in last and "line 3" in last
    assert "multiprocessing" not in done.stderr  # no worker ever started
    assert done.seconds < 30
    assert new_shm(before) == []


def test_the_same_script_with_a_main_guard_runs(tmp_path: Path):
    guarded = UNGUARDED.replace("BACKEND", "'process-pool'").replace(
        "report =", 'if __name__ == "__main__":\n    report =').replace(
        "print(report", "    print(report")
    done = runs.script(tmp_path / "guarded.py", guarded)
    assert done.returncode == 0, done.describe()
    assert done.stdout.split() == ["2262"]


def test_fork_does_not_import_the_script_again(tmp_path: Path):
    done = runs.script(tmp_path / "forked.py", starting("fork").replace("BACKEND",
                                                                        "'process-pool'"))
    assert done.returncode == 0, done.describe()


def test_with_this_pythons_default_start_method_a_script_is_refused_unless_it_forks(
        tmp_path: Path):
    done = runs.script(tmp_path / "unguarded.py", UNGUARDED.replace("BACKEND", "'process-pool'"))
    refused = backends.default_start_method() != "fork"
    assert (done.returncode != 0) == refused, done.describe()
    assert ("__name__" in done.stderr) == refused


def test_auto_never_picks_processes_for_a_script_without_guard():
    choice = backends.resolve("auto", numpy=False, workers=2, unguarded=True)
    assert not backends.flags(choice.name).starts_processes
    fallback = backends.without_subinterpreters("x", numpy=False, processes=False).name
    assert not backends.flags(fallback).starts_processes


def test_a_worker_importing_the_script_again_stops_at_once(tmp_path: Path):
    """What a worker would do if a run started processes all the same: ``mpi_lab.run`` at the
    top of ``__mp_main__`` ends that process in one line, before anything else (MPI)."""
    path = tmp_path / "again.py"
    path.write_text("import mpi_lab\nmpi_lab.run('pi', params={'trials': 1000})\n")
    probe = f"import runpy; runpy.run_path({str(path)!r}, run_name='__mp_main__')"
    done = runs.run(["-c", probe], cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert "__name__" in done.stderr and "Traceback" not in done.stderr


def test_unguarded_call_is_found_in_the_script_source(tmp_path: Path):
    path = tmp_path / "where.py"
    path.write_text(
        "import sys\nfrom mpi_lab.local import mainguard\n"
        "print(mainguard.unguarded_call('spawn'))\n"
        "if __name__ == '__main__':\n    print(mainguard.unguarded_call('forkserver'))\n"
        "print(mainguard.unguarded_call('fork'))\n")
    done = runs.run([str(path)], cwd=tmp_path)
    assert done.stdout.splitlines() == [f"({str(path)!r}, 3)", "None", "None"]
    assert mainguard.unguarded_call(None) is None  # pytest's own __main__


# -- results and items that cannot cross ----------------------------------------------------

@pytest.mark.parametrize("what", ["lock", "lambda"])
@pytest.mark.parametrize("backend", available(*OUT_OF_PROCESS))
def test_a_result_that_cannot_travel_names_item_index_and_type(backend: str, what: str):
    with pytest.raises(WorkerError) as failed:
        mpi_lab.run("wl_unsendable", params={"what": what, "n": 4}, backend=backend,
                    workers=2, deadline=60)
    assert failed.value.exit_code == 1
    assert failed.value.failure is not None and failed.value.failure.index == 3
    message = str(failed.value)
    assert "item 3 " in message
    assert ("_thread.lock" if what == "lock" else "function") in message
    assert "\n" not in message


@pytest.mark.parametrize("backend", available(*IN_PROCESS))
def test_in_process_workers_take_what_does_not_pickle(backend: str):
    report = mpi_lab.run("wl_unsendable", params={"what": "lock"}, backend=backend, workers=2)
    assert report.answer == 6


@pytest.mark.parametrize("backend", available(*OUT_OF_PROCESS))
def test_an_item_that_cannot_travel_is_bad_input(backend: str):
    with pytest.raises(ConfigError, match=r"item 3 \(.*_thread\.lock"):
        mpi_lab.run("wl_unsendable", params={"where": "item"}, backend=backend, workers=2,
                    deadline=60)


def test_cli_says_it_in_one_line_and_leaves_nothing():
    before = shm_names()
    done = runs.lab("run", "wl_unsendable", "--param", "what='lambda'", "--param", "n=4",
                    "--backend", "process-pool", "--json")
    assert done.returncode == 1, done.describe()
    assert len(done.errors) == 1 and "Traceback" not in done.stderr
    assert "item 3 " in done.errors[0] and "function" in done.errors[0]
    assert json.loads(done.stdout)["exit_code"] == 1
    assert new_shm(before) == []


# -- NumPy in a subinterpreter --------------------------------------------------------------

SUBINTERPRETERS = [name for name in backends.NAMES if not backends.backend_class(name).runs_numpy]


@pytest.mark.parametrize("spec", ["wl_numpy_inside", "wl_numpy_top"])
def test_auto_runs_a_kernel_that_cannot_load_in_a_subinterpreter_elsewhere(spec: str):
    serial = mpi_lab.run(spec, backend="serial").answer
    report = mpi_lab.run(spec, workers=2)
    assert report.answer == serial
    assert report.backend not in SUBINTERPRETERS
    if backends.availability("interpreter-pool").available:  # it was tried, and said why not
        assert "subinterpreter" in report.backend_why
        assert report.backend == "thread-pool"  # NumPy: threads, as for needs_numpy


@pytest.mark.parametrize("backend", available(*SUBINTERPRETERS))
def test_asking_for_a_subinterpreter_gets_the_needs_numpy_line(backend: str):
    done = runs.lab("run", "wl_numpy_inside", "--backend", backend)
    assert done.returncode == 2, done.describe()
    assert len(done.stderr.strip().splitlines()) == 1
    assert "needs_numpy" in done.errors[0]


# -- the first failure stops the pool -------------------------------------------------------

@pytest.mark.parametrize("backend", available(*(n for n in backends.NAMES if n != "serial")))
def test_the_first_failure_stops_a_local_pool(backend: str):
    """Item 1 fails at once while item 0 sleeps 8 s: nothing waits for item 0."""
    done = runs.lab("run", "wl_failfast", "--param", "n=4", "--param", "pause=8",
                    "--param", "fail_at=1", "--backend", backend, "--workers", "2")
    assert done.returncode == 1, done.describe()
    assert "item 1 " in done.errors[0]
    assert done.seconds < FAST + 1, done.describe()  # the run's own start-up included


# -- words for every exit -------------------------------------------------------------------

def test_json_for_the_deadline():
    done = runs.lab("pi", "--trials", str(10**12), "--deadline", "1", "--json")
    assert done.returncode == 124
    fields = json.loads(done.stdout)
    assert fields["exit_code"] == 124 and "deadline of 1 s passed" in fields["error"]


def test_json_for_sigint():
    proc = subprocess.Popen([sys.executable, "-m", "mpi_lab", "pi", "--trials", str(10**12),
                             "--json"], env=runs.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    fields = json.loads(out)
    assert fields["exit_code"] == 130 and fields["error"].startswith("Interrupted (SIGINT)")
    assert err.strip().splitlines()[-1].startswith("Interrupted (SIGINT)")


@pytest.mark.parametrize("spec", ["my_work.py", "./deeper/other_work.py", "deeper/other_work.py"])
def test_a_file_is_a_spec(spec: str, tmp_path: Path):
    source = Path(wl_words.__file__).read_text()
    (tmp_path / "deeper").mkdir()
    (tmp_path / spec).write_text(source)
    done = runs.lab("run", spec, "--backend", "process-pool", "--workers", "2", "--json",
                    cwd=tmp_path)
    assert done.returncode == 0, done.describe()
    assert json.loads(done.stdout)["answer"] == repr(mpi_lab.run("wl_words").answer)


def test_a_file_spec_that_is_not_there_says_so(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        mpi_lab.run(str(tmp_path / "absent.py"))


def test_interrupted_is_a_keyboard_interrupt_with_its_exit_code():
    ended = Interrupted(signal.SIGTERM, "Terminated")
    assert isinstance(ended, KeyboardInterrupt) and ended.exit_code == 143

