"""Plans of any size in constant memory, backends that take items only as results come back,
and a single `--mpi` process that leaves nothing in /dev/shm."""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import BACKING_ENV
from reference import pi_job

from mpi_lab import backends
from mpi_lab.core.lazyplan import LazyPlan
from mpi_lab.local.runner import Numbered, rank_kernel
from mpi_lab.mpi import schedules
from mpi_lab.workloads import pi

HUGE = 10**14  # trials: a plan of 10^9 blocks of 100 000


def test_a_plan_of_a_billion_blocks_is_made_as_it_is_read():
    blocks = pi.plan_blocks(HUGE + 7, 100_000, 3)
    assert len(blocks) == 10**9 + 1
    assert blocks[-1] == pi.PiBlock(10**9, 7, 3, "python")
    assert blocks[12] == pi.PiBlock(12, 100_000, 3, "python")
    assert len(pickle.dumps(blocks)) < 500  # a share travels as its recipe, not its items


def test_small_plans_equal_their_list():
    blocks = pi.plan_blocks(1_000_001, 100_000, 3)
    block = functools.partial(pi.PiBlock, seed=3, kernel="python")
    assert list(blocks) == [block(k, 100_000) for k in range(10)] + [block(10, 1)]
    assert blocks[3:5] == [block(3, 100_000), block(4, 100_000)]
    assert blocks[::4] == list(blocks)[::4]


@pytest.mark.parametrize("schedule", ["block", "cyclic"])
def test_static_shares_of_a_huge_plan_stay_lazy(schedule: str):
    plan = pi.plan_blocks(HUGE, 100_000, 0)
    shares = [schedules.take(plan, indices)
              for indices in schedules.split(len(plan), 7, schedule)]
    assert sum(len(share) for share in shares) == 10**9
    assert all(isinstance(share, LazyPlan) for share in shares)
    if schedule == "cyclic":  # rank r takes blocks r, r + 7, r + 14, ...
        assert [(share[0].index, share[1].index) for share in shares] == [
            (rank, rank + 7) for rank in range(7)]
    else:  # consecutive runs of blocks that tile the plan
        starts = [share[0].index for share in shares]
        assert starts == [sum(len(s) for s in shares[:rank]) for rank in range(7)]
        assert shares[-1][-1].index == 10**9 - 1


def test_dynamic_chunks_of_a_huge_plan_are_made_one_at_a_time():
    plan = pi.plan_blocks(HUGE, 100_000, 0)
    chunks = (schedules.take(plan, indices) for indices in schedules.chunks(len(plan), 10**8))
    first, second = next(chunks), next(chunks)
    assert (first[0].index, second[0].index, len(second)) == (0, 10**8, 10**8)


class CountingPlan(LazyPlan):
    """A π plan that counts the blocks anyone made from it."""

    made = 0

    def __init__(self, count: int) -> None:
        def make(index: int) -> pi.PiBlock:
            CountingPlan.made += 1
            return index, pi.PiBlock(index, 1_000, 0, "python")

        super().__init__(make, range(count))


@pytest.mark.parametrize("name", [n for n in backends.NAMES if backends.availability(n).available])
def test_backends_take_items_only_as_results_come_back(name: str, monkeypatch):
    """A failure in the first block of 10^9: each backend has made at most its look-ahead."""
    monkeypatch.setenv("MPI_LAB_FAULT", "raise")
    CountingPlan.made = 0
    started = time.monotonic()
    with backends.create(name, 2) as pool, pytest.raises(Exception, match="injected fault"):
        pool.map(rank_kernel(pi_job(trials=HUGE, block_size=1_000)), CountingPlan(10**9))
    # Its look-ahead, the items its workers hold, and a few made while the failure spreads:
    # of the order of the look-ahead, against 10^9.
    assert CountingPlan.made <= 2 * pool.ahead
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("name", [n for n in backends.NAMES if backends.availability(n).available])
def test_backends_count_each_result(name: str):
    counted: list[int] = []
    job = pi_job(trials=20_000, block_size=1_000)
    with backends.create(name, 2) as pool:
        plan = job.plan()
        hits = pool.map(rank_kernel(job), Numbered(range(len(plan)), plan), counted.append)
    assert sum(counted) == len(hits) == 20


@pytest.mark.timeout(60)
def test_a_huge_run_stays_small_until_its_deadline():
    proc = subprocess.Popen([sys.executable, "-m", "mpi_lab", "pi", "--trials", str(HUGE),
                             "--deadline", "3", "--no-mpi"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass  # the process ended between poll and read
        time.sleep(0.05)
    _, err = proc.communicate()
    assert proc.returncode == 124, err
    assert "deadline of 3 s passed with" in err
    assert 0 < peak < 200_000  # kB


def _open_mpi_files() -> list[Path]:
    """What Open MPI made for the run: its segments and session files, in the test's own
    folders (``procs.Scope``)."""
    shm = Path(os.environ[BACKING_ENV])
    return [*shm.glob("sm_segment.*"), *Path(os.environ["TMPDIR"]).glob("ompi.*/jf.*/*")]


@pytest.mark.parametrize("args", [(), ("--deadline", "1", "--trials", str(HUGE))])
def test_mpi_without_a_launcher_leaves_no_segment_and_no_session(args):
    done = subprocess.run([sys.executable, "-m", "mpi_lab", "pi", "--trials", "1000", "--mpi",
                           *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == (124 if args else 0), done.stderr
    assert _open_mpi_files() == []
