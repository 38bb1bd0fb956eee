"""Every way a run can end leaves nothing behind and says so: exit code, message, leftovers.

Each case is one long ``python -m mpi_lab pi`` run (locally, or under ``mpiexec -n N``) ended
one way: a signal once it is working, its own ``--deadline``, an injected worker exception, or
success; see ``endings.py`` for how it is run and measured. The behaviour expected is the
EXPECTED table below.
"""

from __future__ import annotations

import pytest
from endings import SIGNAL_ENDINGS, Case, Outcome, run_case

from mpi_lab import backends
from mpi_lab.cluster import launcher

# (where, ending) -> what the run must do. "exit": the launcher's (or local process's) exit
# code; "last_line" / "a_line": the last / some non-empty stderr line starts with it;
# "contains": stderr holds it, whitespace runs counted as one space (Open MPI wraps its lines).
EXPECTED: dict[tuple[str, str], dict] = {
    ("local", "success"): {"exit": 0},
    ("local", "worker-exception"): {"exit": 1, "last_line": "Error: worker failed"},
    ("local", "sigint"): {"exit": 130, "a_line": "Interrupted (SIGINT)"},
    ("local", "sigterm"): {"exit": 143, "a_line": "Terminated (SIGTERM)"},
    ("local", "deadline"): {"exit": 124, "contains": "deadline of 2 s passed"},
    # Open MPI's launcher ends with its own code 1 and drops what the ranks print.
    ("mpiexec", "sigint"): {"exit": 1},
    ("mpiexec", "sigterm"): {"exit": 1},
    ("mpiexec", "sigkill-rank"): {"exit": 137, "contains": "exited on signal 9"},
    ("mpiexec", "sigkill-launcher"): {"exit": -9},  # we killed it; its ranks must follow
    ("mpiexec", "deadline"): {"exit": 124, "contains": "deadline of 2 s passed"},
}

MPI_BACKENDS = ("serial", "process-pool", "shared-memory")
MPI_ENDINGS = ("sigint", "sigterm", "sigkill-rank", "deadline")
LOCAL_ENDINGS = ("success", "worker-exception", "sigint", "sigterm", "deadline")
CASE_TIMEOUT = 120  # seconds; endings.py bounds a case at ~85 s however it goes

try:
    launcher.mpiexec_path()
    NO_MPIEXEC = None
except FileNotFoundError as exc:  # pragma: no cover - the venv always has one
    NO_MPIEXEC = str(exc)


def _unavailable(backend: str) -> str | None:
    try:
        status = backends.availability(backend)
    except Exception:  # noqa: BLE001 - a broken backend must fail its cases, not be skipped
        return None
    return None if status.available else f"{backend} unavailable: {status.reason}"


def _param(case: Case) -> pytest.param:
    reason = NO_MPIEXEC if case.ranks is not None else _unavailable(case.backend)
    marks = [pytest.mark.skip(reason=reason)] if reason else []
    return pytest.param(case, id=case.id, marks=marks)


MPI_CASES = [Case(ending, backend, ranks=ranks)
             for ranks in (2, 4) for backend in MPI_BACKENDS for ending in MPI_ENDINGS]
LAUNCHER_CASES = [Case("sigkill-launcher", backend, ranks=2) for backend in MPI_BACKENDS]
LOCAL_CASES = [Case(ending, backend) for backend in backends.NAMES for ending in LOCAL_ENDINGS]
# Kernels that never return: the run must not wait for them, on any backend.
HUNG_CASES = [Case(ending, backend, hung=True) for backend in backends.NAMES
              for ending in ("sigterm", "deadline")]
PROMPT = 1.5  # seconds: from the signal, or past the deadline, to the end

# With live progress, threads on every rank are sending and receiving while the run ends.
PROGRESS_CASES = [Case(ending, "serial", ranks=2, progress=True) for ending in MPI_ENDINGS] + [
    Case(ending, "process-pool", progress=True) for ending in LOCAL_ENDINGS]


def check(outcome: Outcome) -> None:
    """The case did what EXPECTED says, and left no process, no /dev/shm entry and no folder
    of Python's (``/tmp/pymp-*``) or Open MPI's (``/tmp/ompi.*``) in /tmp."""
    case = outcome.case
    expected = EXPECTED[(case.where, case.ending)]
    problems = []
    if case.ending in SIGNAL_ENDINGS and not outcome.signalled:
        problems.append("never signalled (it ended before)")
    if outcome.returncode != expected["exit"]:
        problems.append(f"exit {outcome.returncode}, expected {expected['exit']}")
    if "last_line" in expected and not outcome.last_line.startswith(expected["last_line"]):
        problems.append(f"last stderr line does not start with {expected['last_line']!r}")
    if "a_line" in expected and not any(
            line.startswith(expected["a_line"]) for line in outcome.lines):
        problems.append(f"no stderr line starts with {expected['a_line']!r}")
    if "contains" in expected and expected["contains"] not in " ".join(outcome.stderr.split()):
        problems.append(f"stderr lacks {expected['contains']!r}")
    if "resource_tracker" in outcome.stderr:
        problems.append("the resource tracker warned of leaks")
    if outcome.processes:
        problems.append(f"{len(outcome.processes)} processes left")
    if outcome.shm:
        problems.append(f"{len(outcome.shm)} /dev/shm entries left")
    if outcome.pymp or outcome.ompi:
        problems.append(f"{len(outcome.pymp) + len(outcome.ompi)} /tmp folders left")
    assert not problems, "; ".join(problems) + "\n" + outcome.describe()


@pytest.mark.timeout(CASE_TIMEOUT)
@pytest.mark.parametrize("case", [_param(case) for case in MPI_CASES])
def test_mpiexec_ending(case: Case):
    check(run_case(case))


@pytest.mark.timeout(CASE_TIMEOUT)
@pytest.mark.parametrize("case", [_param(case) for case in LAUNCHER_CASES])
def test_mpiexec_killed_launcher_takes_its_ranks(case: Case):
    check(run_case(case))


@pytest.mark.timeout(CASE_TIMEOUT)
@pytest.mark.parametrize("case", [_param(case) for case in LOCAL_CASES])
def test_local_ending(case: Case):
    check(run_case(case))


@pytest.mark.timeout(CASE_TIMEOUT)
@pytest.mark.parametrize("case", [_param(case) for case in HUNG_CASES])
def test_hung_kernels_do_not_hold_the_end(case: Case):
    outcome = run_case(case)
    check(outcome)
    late = outcome.seconds - (case.deadline if case.ending == "deadline" else 0)
    assert late < PROMPT, f"ended {late:.1f} s late\n{outcome.describe()}"


@pytest.mark.timeout(CASE_TIMEOUT)
@pytest.mark.parametrize("case", [_param(case) for case in PROGRESS_CASES])
def test_ending_with_progress_shown(case: Case):
    check(run_case(case))
