"""Your own workload and ``mpi_lab.run`` under ``mpiexec -n 2`` and ``-n 4``: nothing hangs,
crashes or waits, whatever a script or a kernel does (issue 19).

Every job runs in a subprocess, bounded in time; the conftest's leak check (its processes, its
files: ``procs.Scope``) runs after each, and the tests add the /dev/shm names of our pools.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import runs
from procs import new_shm, shm_names

from mpi_lab.cluster import launcher
from mpi_lab.mpi import schedules

try:
    launcher.mpiexec_path()
except FileNotFoundError as exc:  # pragma: no cover - the venv always has one
    pytest.skip(str(exc), allow_module_level=True)

pytestmark = pytest.mark.timeout(180)

RANKS = [2, 4]
HOST = os.uname().nodename
FAIL_FAST = 2.0  # seconds from a kernel's failure to the end of the whole job
SCRIPT_ENDS = 5.0  # seconds for a job whose script failed on one rank to end
PAUSE = 1.0  # seconds each item of wl_failfast sleeps


# -- scripts --------------------------------------------------------------------------------

SNIPPET = """\
import mpi_lab

report = mpi_lab.run("examples.primes", params={"limit": 200_000}, backend="process-pool",
                     workers=2)
print(report.answer, round(report.seconds, 3), report.backend, report.per_rank)
"""


@pytest.mark.parametrize("ranks", RANKS)
def test_readme_snippet_without_main_guard_stops_in_one_line(ranks: int, tmp_path: Path):
    before = shm_names()
    done = runs.script(tmp_path / "snippet.py", SNIPPET, ranks=ranks)
    assert done.returncode != 0, done.describe()
    assert "Segmentation" not in done.stderr and "multiprocessing" not in done.stderr
    messages = [line for line in done.stderr.splitlines() if "ConfigError" in line]
    assert len(messages) == 1, done.describe()  # rank 0 says it, once
    assert '__name__ == "__main__"' in messages[0]
    assert done.seconds < 30
    assert new_shm(before) == []


TWICE = """\
import mpi_lab

if __name__ == "__main__":
    report = mpi_lab.run("examples.primes", params={"limit": 20_000}, backend="serial")
    print(report.answer)  # None on every rank but 0: AttributeError there
    report = mpi_lab.run("examples.primes", params={"limit": 20_000}, backend="serial")
"""


@pytest.mark.parametrize("ranks", RANKS)
def test_an_uncaught_exception_between_runs_ends_the_job(ranks: int, tmp_path: Path):
    done = runs.script(tmp_path / "twice.py", TWICE, ranks=ranks)
    assert done.returncode != 0, done.describe()
    assert done.seconds < SCRIPT_ENDS, done.describe()
    # Each rank that failed says so at most once (the job may end before all have).
    assert 1 <= done.stderr.count("Traceback (most recent call last)") <= ranks - 1
    assert "AttributeError" in done.stderr


ONE_RANK_RAISES = """import mpi_lab
from mpi4py import MPI

if __name__ == "__main__":
    mpi_lab.run("examples.primes", params={"limit": 20_000}, backend="serial")
    if MPI.COMM_WORLD.Get_rank() == 1:
        raise RuntimeError("rank 1 gives up")
    mpi_lab.run("examples.primes", params={"limit": 20_000}, backend="serial")
"""


@pytest.mark.parametrize("ranks", RANKS)
def test_one_rank_raising_prints_its_traceback_once(ranks: int, tmp_path: Path):
    done = runs.script(tmp_path / "raises.py", ONE_RANK_RAISES, ranks=ranks)
    assert done.returncode != 0, done.describe()
    assert done.seconds < SCRIPT_ENDS, done.describe()
    assert done.stderr.count("Traceback (most recent call last)") == 1, done.stderr
    assert "RuntimeError: rank 1 gives up" in done.stderr


LEAVES = """\
import sys
import mpi_lab
from mpi4py import MPI

if __name__ == "__main__":
    mpi_lab.run("examples.primes", params={"limit": 20_000}, backend="serial")
    if MPI.COMM_WORLD.Get_rank() == 1:
        sys.exit(0)  # this rank's script ends here; the others make a second run
    mpi_lab.run("examples.primes", params={"limit": 20_000}, backend="serial")
"""


@pytest.mark.parametrize("ranks", RANKS)
def test_a_rank_that_leaves_early_does_not_leave_the_others_waiting(ranks: int,
                                                                    tmp_path: Path):
    done = runs.script(tmp_path / "leaves.py", LEAVES, ranks=ranks)
    assert done.returncode != 0, done.describe()
    assert done.seconds < SCRIPT_ENDS, done.describe()
    assert "rank 1 has ended" in done.stderr


@pytest.mark.parametrize("ranks", RANKS)
def test_every_rank_leaving_together_ends_cleanly(ranks: int, tmp_path: Path):
    done = runs.script(tmp_path / "both.py", LEAVES.replace("if MPI.COMM_WORLD.Get_rank() == 1:",
                                                            "if True:"), ranks=ranks)
    assert done.returncode == 0, done.describe()


# -- fail fast across ranks -----------------------------------------------------------------

def first_of_rank_1(items: int, ranks: int, schedule: str) -> int:
    """The plan index rank 1 takes first (dynamic: the second chunk, taken at once by some
    rank other than the first chunk's)."""
    if schedule == "dynamic":
        return schedules.chunk_size(items, ranks)
    return schedules.split(items, ranks, schedule)[1][0]


@pytest.mark.parametrize("schedule", ["block", "cyclic", "dynamic"])
@pytest.mark.parametrize("ranks", RANKS)
def test_a_failure_on_one_rank_ends_the_job_at_once(ranks: int, schedule: str,
                                                     tmp_path: Path):
    """Every other item sleeps a second, and each rank has several: without failing fast the
    job would last until the slowest rank finished its share."""
    items = 6 * ranks
    fail_at = first_of_rank_1(items, ranks, schedule)
    stamp = tmp_path / "failed_at"
    done = runs.lab("run", "wl_failfast", "--param", f"n={items}", "--param", f"pause={PAUSE}",
                    "--param", f"fail_at={fail_at}", "--param", f"stamp={str(stamp)!r}",
                    "--schedule", schedule, "--backend", "serial", ranks=ranks)
    assert done.returncode == 1, done.describe()
    assert len(done.errors) == 1, done.describe()
    assert f"on host {HOST}: worker failed on item {fail_at} " in done.errors[0]
    assert "ValueError" in done.errors[0]
    late = done.ended - float(stamp.read_text())
    assert late < FAIL_FAST, f"ended {late:.2f} s after the failure\n{done.describe()}"


@pytest.mark.parametrize("backend", ["thread-pool", "process-pool"])
def test_failing_fast_stops_pools_on_every_rank(backend: str, tmp_path: Path):
    stamp = tmp_path / "failed_at"
    before = shm_names()
    done = runs.lab("run", "wl_failfast", "--param", "n=16", "--param", f"pause={PAUSE}",
                    "--param", "fail_at=9", "--param", f"stamp={str(stamp)!r}",
                    "--schedule", "block", "--backend", backend, "--workers", "2", ranks=2)
    assert done.returncode == 1, done.describe()
    assert "rank 1 on host" in done.errors[0] and "item 9 " in done.errors[0]
    assert done.ended - float(stamp.read_text()) < FAIL_FAST, done.describe()
    assert new_shm(before) == []


# -- what cannot cross, across ranks --------------------------------------------------------

@pytest.mark.parametrize("ranks", RANKS)
def test_a_result_that_cannot_reach_rank_0_is_named(ranks: int):
    done = runs.lab("run", "wl_unsendable", "--param", "what='lambda'", "--param",
                    f"n={ranks * 2}", "--param", f"at={ranks * 2 - 1}", "--schedule",
                    "cyclic", "--backend", "serial", "--json", ranks=ranks)
    assert done.returncode == 1, done.describe()
    last = ranks * 2 - 1  # cyclic: the last rank's
    fields = json.loads(done.stdout)
    assert f"rank {ranks - 1} on host" in fields["error"]
    assert f"item {last} " in fields["error"] and "function" in fields["error"]
    assert len(done.errors) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("schedule", ["block", "cyclic", "dynamic"])
def test_a_result_that_could_have_travelled_fails_on_rank_0_too(schedule: str):
    """Item 0 falls to rank 0 (or, dynamic, to any rank): its result must be able to reach
    rank 0 all the same, or a run would fail or not by where its items fell."""
    done = runs.lab("run", "wl_unsendable", "--param", "what='lambda'", "--param", "n=8",
                    "--param", "at=0", "--param", "only=True", "--schedule", schedule,
                    "--backend", "serial", ranks=2)
    assert done.returncode == 1, done.describe()
    assert "the result of item 0 " in done.errors[0] and "function" in done.errors[0]


@pytest.mark.parametrize("schedule", ["block", "dynamic"])
@pytest.mark.parametrize("ranks", RANKS)
def test_an_item_that_cannot_be_sent_is_bad_input(ranks: int, schedule: str):
    done = runs.lab("run", "wl_unsendable", "--param", "where='item'", "--param", "n=40",
                    "--param", "at=37", "--schedule", schedule, ranks=ranks)
    assert done.returncode == 2, done.describe()
    assert len(done.errors) == 1 and "Traceback" not in done.stderr
    assert "item 37 (" in done.errors[0] and "_thread.lock" in done.errors[0]


@pytest.mark.parametrize("backend", ["interpreter-pool", "process-pool"])
def test_an_unpicklable_result_in_a_rank_pool_is_named(backend: str):
    from mpi_lab import backends

    if not backends.availability(backend).available:
        pytest.skip(backends.availability(backend).reason)
    done = runs.lab("run", "wl_unsendable", "--param", "n=4", "--backend", backend,
                    "--workers", "2", ranks=2)
    assert done.returncode == 1, done.describe()
    assert "item 3 " in done.errors[0] and "_thread.lock" in done.errors[0]


# -- the words of every exit ----------------------------------------------------------------

@pytest.mark.parametrize("ranks", RANKS)
def test_the_deadline_names_each_rank_still_working_and_its_item(ranks: int):
    done = runs.lab("pi", "--trials", str(10**12), "--deadline", "2", "--json", ranks=ranks)
    assert done.returncode == 124, done.describe()
    said = json.loads(done.stdout)["error"]
    for rank in range(ranks):
        assert f"rank {rank} on host {HOST} was on item " in said, said
    assert said in " ".join(done.stderr.split())


@pytest.mark.parametrize("ranks", RANKS)
def test_a_kernel_importing_numpy_inside_runs_under_auto(ranks: int):
    done = runs.lab("run", "wl_numpy_inside", "--workers", "2", "--json", ranks=ranks)
    assert done.returncode == 0, done.describe()
    fields = json.loads(done.stdout)
    assert fields["answer"] == sum(sum(range(k + 1)) for k in range(6))
    assert fields["backend"] not in ("interpreter-pool", "interpreters")
    assert all(rank["backend"] == fields["backend"] for rank in fields["per_rank"])


def test_a_rank_that_leaves_subinterpreters_says_so():
    """Only rank 1's items import NumPy: rank 1 alone leaves the subinterpreters ``auto``
    chose, and the report says which backend each rank ran."""
    from mpi_lab import backends

    if not backends.availability("interpreter-pool").available:
        pytest.skip(backends.availability("interpreter-pool").reason)
    done = runs.lab("run", "wl_numpy_inside", "--param", "n=8", "--param", "numpy_from=4",
                    "--schedule", "block", "--workers", "2", "--json", ranks=2)
    assert done.returncode == 0, done.describe()
    fields = json.loads(done.stdout)
    assert fields["answer"] == sum(sum(range(k + 1)) for k in range(8))
    assert [rank["backend"] for rank in fields["per_rank"]] == ["interpreter-pool",
                                                                "thread-pool"]
    text = runs.lab("run", "wl_numpy_inside", "--param", "n=8", "--param", "numpy_from=4",
                    "--schedule", "block", "--workers", "2", ranks=2)
    assert "other backends: rank 1: thread-pool" in text.stdout


def test_a_file_spec_on_every_rank(tmp_path: Path):
    (tmp_path / "deeper").mkdir()
    (tmp_path / "deeper" / "words.py").write_text((runs.TESTS / "wl_words.py").read_text())
    done = runs.lab("run", "./deeper/words.py", "--schedule", "cyclic", "--json", ranks=2,
                    cwd=tmp_path)
    assert done.returncode == 0, done.describe()
    local = runs.lab("run", "./deeper/words.py", "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["answer"] == json.loads(local.stdout)["answer"]
