"""Coordinator tests run by pytest-mpi inside ``mpiexec -n 2`` and ``-n 4`` (scripts/test).

Every assertion is made on every rank, on values rank 0 shares, so a failure fails all ranks
alike and none is left waiting in a collective.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
import pytest
from reference import fractal_job, pi_job, seed_fractal

import mpi_lab
from mpi_lab import backends
from mpi_lab.core.errors import ConfigError, RankFailed, WorkerError
from mpi_lab.mpi import coordinator

pytestmark = [pytest.mark.mpi(min_size=2), pytest.mark.timeout(120)]

SCHEDULES = ["block", "cyclic", "dynamic"]
RANK_BACKENDS = [
    name for name in ("serial", "thread-pool", "process-pool", "interpreter-pool")
    if backends.availability(name).available
]


@pytest.fixture
def comm():
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    yield world
    world.Barrier()


def shared(comm, value):
    """Rank 0's value, on every rank."""
    return comm.bcast(value, root=0)


@pytest.mark.parametrize("backend", RANK_BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_pi_hits_equal_local_run(comm, schedule: str, backend: str):
    job = pi_job(trials=23_457, block_size=1_000, seed=11)
    report = mpi_lab.run(job, backend=backend, workers=2, schedule=schedule, mpi=True)
    hits = shared(comm, report.answer.hits if report else None)
    assert hits == mpi_lab.run(job, backend="serial", workers=1, mpi=False).answer.hits
    per_rank = shared(comm, [r.items for r in report.per_rank] if report else None)
    assert len(per_rank) == comm.Get_size()
    assert sum(per_rank) == len(job.plan())


@pytest.mark.parametrize("backend", ["serial", "thread-pool", "process-pool"])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_compiled_kernels_answer_as_alone(comm, schedule: str, backend: str):
    from mpi_lab.workloads import compiled

    if compiled.unavailable():
        pytest.skip(compiled.unavailable())
    params = {"trials": 23_457, "block_size": 1_000, "seed": 11, "kernel": "compiled"}
    report = mpi_lab.run("pi", params=params, backend=backend, workers=2, schedule=schedule,
                         mpi=True)
    hits = shared(comm, report.answer.hits if report else None)
    assert hits == mpi_lab.run("pi", params=params, backend="serial", mpi=False).answer.hits
    sizes = {"height": 61, "width": 37, "maxiter": 40}
    report = mpi_lab.run("fractal", params={**sizes, "kernel": "compiled"}, backend=backend,
                         workers=2, schedule=schedule, mpi=True)
    assert shared(comm, bool(report and np.array_equal(report.answer.pixels,
                                                       seed_fractal(61, 37, 40))))


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("height", "width", "maxiter", "band_rows"),
                         [(3, 7, 20, 1), (257, 131, 50, 5), (40, 30, 20, None),
                          (33, 29, 300, 4)])  # pixels up to 300: a two-byte wire type
def test_fractal_equals_seed(comm, schedule: str, height: int, width: int, maxiter: int,
                             band_rows: int | None):
    job = fractal_job(height=height, width=width, maxiter=maxiter, band_rows=band_rows)
    report = mpi_lab.run(job, backend="thread-pool", workers=1, schedule=schedule, mpi=True)
    equal = shared(comm, bool(report and np.array_equal(report.answer.pixels,
                                                        seed_fractal(height, width, maxiter))))
    assert equal


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_fractal_with_worker_processes_equals_seed(comm, schedule: str):
    # Workers in other processes cannot write into rank 0's result: their rows are stacked
    # and placed, unlike the thread pool's, which rank 0 computes in place.
    job = fractal_job(height=57, width=31, maxiter=300, band_rows=3)
    report = mpi_lab.run(job, backend="process-pool", workers=1, schedule=schedule, mpi=True)
    assert shared(comm, bool(report and np.array_equal(report.answer.pixels,
                                                       seed_fractal(57, 31, 300))))


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("backend", ["thread-pool", "process-pool"])
def test_results_gathered_in_many_small_rounds_are_whole(comm, monkeypatch, schedule: str,
                                                         backend: str):
    # Rounds of a few hundred bytes: each band crosses in a round of its own or with others,
    # into rank 0's slots (fractal) or into one buffer (pi: no slots).
    monkeypatch.setattr(coordinator, "GATHER_ROUND_BYTES", 300)
    job = fractal_job(height=57, width=31, maxiter=300, band_rows=3)
    report = mpi_lab.run(job, backend=backend, workers=1, schedule=schedule, mpi=True)
    assert shared(comm, bool(report and np.array_equal(report.answer.pixels,
                                                       seed_fractal(57, 31, 300))))
    pi = pi_job(trials=23_457, block_size=1_000, seed=11)
    report = mpi_lab.run(pi, backend=backend, workers=1, schedule=schedule, mpi=True)
    hits = shared(comm, report.answer.hits if report else None)
    assert hits == mpi_lab.run(pi, backend="serial", workers=1, mpi=False).answer.hits


def test_python_kernel_in_interpreter_pool_per_rank(comm):
    if "interpreter-pool" not in RANK_BACKENDS:
        pytest.skip(backends.availability("interpreter-pool").reason)
    job = fractal_job(height=21, width=13, maxiter=30, kernel="python", band_rows=2)
    report = mpi_lab.run(job, backend="interpreter-pool", workers=2, schedule="cyclic", mpi=True)
    assert shared(comm, bool(report and np.array_equal(report.answer.pixels,
                                                       seed_fractal(21, 13, 30))))


def test_only_rank_0_gets_the_report(comm):
    report = mpi_lab.run(pi_job(trials=5_000, block_size=1_000), backend="serial", workers=1, mpi=True)
    ranks_with_report = comm.allgather(report is not None)
    assert ranks_with_report == [True] + [False] * (comm.Get_size() - 1)


def test_auto_workers_share_the_node_cores(comm):
    import os

    counts = comm.allgather(coordinator.auto_workers(comm))
    # All ranks of these tests run on one node: together they never ask for more workers
    # than it has cores (or one each, when the ranks outnumber the cores).
    assert min(counts) >= 1
    assert sum(counts) <= max(os.cpu_count() or 1, comm.Get_size())


def test_worker_failure_is_agreed_by_every_rank(comm, monkeypatch):
    monkeypatch.setenv("MPI_LAB_FAULT", "raise@1")
    with pytest.raises(RankFailed, match=r"rank 1 on host .*InjectedFault") as info:
        mpi_lab.run(pi_job(trials=20_000, block_size=1_000), backend="thread-pool", workers=1, mpi=True)
    assert info.value.exit_code == 1
    # Caught as without MPI, and chained to the worker's traceback.
    assert isinstance(info.value, WorkerError)
    assert "InjectedFault" in str(info.value.__cause__)


def test_bad_input_is_a_config_error_on_every_rank(comm):
    with pytest.raises(ConfigError, match="trials must be greater than 0") as info:
        mpi_lab.run(pi_job(trials=0), backend="serial", workers=1, mpi=True)
    assert info.value.exit_code == 2 and info.value.agreed


def _progress_left(comm) -> bool:
    """A progress report not received by rank 0 (on rank 0; False elsewhere), on every rank."""
    from mpi4py import MPI

    from mpi_lab.core.protocol import TAG_PROGRESS

    comm.Barrier()
    left = comm.Get_rank() == 0 and comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_PROGRESS)
    return shared(comm, left)


def test_reports_reach_rank_0_while_the_ranks_work(comm):
    import time

    from mpi_lab.progress import meter, tally

    rank, size = comm.Get_rank(), comm.Get_size()
    meter = meter.start(f"rank {rank}")
    collector = tally.Collector(comm, total=5 * size) if rank == 0 else None
    seen = []
    comm.Barrier()  # every rank starts its items together
    with tally.reporting(comm, True) as reporter:
        meter.plan(5)
        for _ in range(5):  # each rank's items, at a known pace
            time.sleep(0.3)
            meter.advance()
            if collector is not None:
                seen.append(collector.poll().done)
    sent = comm.gather(reporter.sent if reporter is not None else 0, root=0)
    final = None
    if collector is not None:
        collector.drain(sent)
        final = collector.status()
    seen, final = shared(comm, seen), shared(comm, final)
    assert final.done == 5 * size and final.working == 1  # every rank but 0 said it finished
    # before rank 0's last item, it had heard of the others' items too
    assert size == 1 or max(seen[:-1]) > 4
    assert not _progress_left(comm)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_run_with_progress_answers_alike_and_leaves_no_report_behind(comm, schedule: str,
                                                                       capfd):
    job = pi_job(trials=60_000, block_size=1_000, seed=3)
    report = mpi_lab.run(job, backend="serial", workers=1, schedule=schedule, mpi=True, progress=True)
    hits = shared(comm, report.answer.hits if report else None)
    assert hits == mpi_lab.run(job, backend="serial", workers=1, mpi=False).answer.hits
    assert not _progress_left(comm)
    lines = shared(comm, capfd.readouterr().err if comm.Get_rank() == 0 else None)
    assert "60 of 60 items (100%)" in lines and f"0 of {comm.Get_size()} ranks" in lines


def test_a_failed_run_with_progress_leaves_no_report_behind(comm, monkeypatch):
    from mpi_lab.progress import tally

    drained = []
    drain = tally.Collector.drain
    monkeypatch.setattr(tally.Collector, "drain",
                        lambda self, sent: (drained.append(sent), drain(self, sent)))
    monkeypatch.setenv("MPI_LAB_FAULT", "raise@1")
    with pytest.raises(RankFailed):
        mpi_lab.run(pi_job(trials=20_000, block_size=1_000), backend="serial", workers=1,
                    mpi=True, progress=True)
    # every other rank, the failed one too, sent at least its last report, all received
    drained = shared(comm, drained)
    assert len(drained) == 1 and all(count >= 1 for count in drained[0][1:])
    assert not _progress_left(comm)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_explain_and_timeline_cover_every_rank(comm, schedule: str):
    job = pi_job(trials=23_457, block_size=1_000, seed=11)
    # A folder of rank 0's, not pytest's tmp_path: every rank would clean pytest's up at once.
    folder = shared(comm, tempfile.mkdtemp(prefix="mpi_lab-test-") if comm.Get_rank() == 0
                    else None)
    try:
        report = mpi_lab.run(job, backend="thread-pool", workers=2, schedule=schedule,
                             mpi=True, explain=True, timeline=f"{folder}/t.json")
        seen = shared(comm, None if report is None else (
            report.answer.hits, report.explain, report.timeline))
    finally:
        comm.Barrier()
        if comm.Get_rank() == 0:
            shutil.rmtree(folder, ignore_errors=True)
    hits, explain, timeline = seen
    assert hits == mpi_lab.run(job, backend="serial", workers=1, mpi=False).answer.hits
    assert [rank["rank"] for rank in explain["per_rank"]] == list(range(comm.Get_size()))
    for rank in explain["per_rank"]:
        assert sum(rank["parts"].values()) == pytest.approx(rank["seconds"], rel=0.01)
    assert {lane["rank"] for lane in timeline["lanes"]} == set(range(comm.Get_size()))
    items = sorted(span["item"] for span in timeline["spans"] if span["kind"] == "compute")
    assert items == list(range(len(job.plan())))
