"""π: the invariance contract across backends, workers, kernels; and the python kernel's draws."""

from __future__ import annotations

import pytest
from reference import pi_hits_python, pi_job

import mpi_lab
from mpi_lab import backends
from mpi_lab.workloads import pi

# Trial counts that are not multiples of the block size, so the last block is short.
CASES = [(12_345, 1_000, 0), (9_999, 700, 42), (1, 100, 7)]


@pytest.mark.parametrize(("trials", "block_size", "seed"), CASES)
def test_serial_python_kernel_matches_seed_style_draws(trials: int, block_size: int, seed: int):
    job = pi_job(trials=trials, seed=seed, kernel="python", block_size=block_size)
    report = mpi_lab.run(job, backend="serial", workers=1, mpi=False)
    assert report.answer.hits == pi_hits_python(trials, block_size, seed)


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
@pytest.mark.parametrize(("trials", "block_size", "seed"), CASES[:2])
def test_hits_invariant_across_backends_and_workers(
    backend_name: str, workers: int, trials: int, block_size: int, seed: int
):
    job = pi_job(trials=trials, seed=seed, kernel="python", block_size=block_size)
    expected = mpi_lab.run(job, backend="serial", workers=1, mpi=False).answer.hits
    report = mpi_lab.run(job, backend=backend_name, workers=workers, mpi=False)
    assert report.answer.hits == expected
    assert report.backend == backend_name
    # Serial is one loop, whatever was asked: the report says what ran.
    assert report.workers == (1 if backend_name == "serial" else workers)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("seed", [0, 5])
def test_numpy_kernel_invariant(numpy_backend_name: str, workers: int, seed: int):
    job = pi_job(trials=23_456, seed=seed, kernel="numpy", block_size=5_000)
    expected = mpi_lab.run(job, backend="serial", workers=1, mpi=False).answer.hits
    assert mpi_lab.run(job, backend=numpy_backend_name, workers=workers, mpi=False).answer.hits == expected


def test_hits_depend_on_seed_and_block_size():
    base = mpi_lab.run(pi_job(trials=50_000, seed=1, block_size=10_000), backend="serial", workers=1, mpi=False).answer.hits
    other_seed = mpi_lab.run(pi_job(trials=50_000, seed=2, block_size=10_000), backend="serial", workers=1, mpi=False)
    other_blocks = mpi_lab.run(pi_job(trials=50_000, seed=1, block_size=7_000), backend="serial", workers=1, mpi=False)
    assert base != other_seed.answer.hits
    assert base != other_blocks.answer.hits


@pytest.mark.parametrize("kernel", ["python", "numpy"])
def test_estimate_is_close_to_pi(kernel: str):
    report = mpi_lab.run(pi_job(trials=400_000, kernel=kernel), backend="serial", workers=1, mpi=False)
    assert abs(report.answer.estimate - 3.14159265) < 0.01


def test_blocks_cover_trials_exactly():
    blocks = pi.plan_blocks(1_000_001, 100_000, 3)
    assert [b.index for b in blocks] == list(range(11))
    assert sum(b.trials for b in blocks) == 1_000_001
    assert blocks[-1].trials == 1


def test_hits_fit_their_layout_up_to_large_counts():
    from mpi_lab.core.results import typed

    for hits in (0, 1, 123_456_789, 2**40):
        assert typed(hits, pi.result_layout(None))[0] == hits


def test_auto_picks_a_working_backend_for_each_kernel():
    for numpy in (False, True):
        choice = backends.resolve("auto", numpy)
        assert backends.availability(choice.name).available
        assert choice.why
        if numpy:
            assert backends.backend_class(choice.name).runs_numpy


def test_auto_with_one_worker_runs_serially():
    assert backends.resolve("auto", False, 1).name == "serial"
    assert backends.resolve("auto", True, 1).name == "serial"
    assert backends.resolve("auto", False, 2).name != "serial"
