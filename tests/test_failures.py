"""Worker failures end the run with exit 1 and the cause, leaving nothing behind."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest
from procs import lab, shm_segments, wait_session_empty
from reference import fractal_job, pi_job

import mpi_lab
from mpi_lab import backends
from mpi_lab.core import faults
from mpi_lab.core.errors import WorkerError


@pytest.mark.parametrize("workload", ["pi", "fractal"])
def test_kernel_exception_becomes_worker_error(backend_name: str, workload: str, monkeypatch):
    monkeypatch.setenv(faults.ENV, "raise")
    job = pi_job(trials=5_000, block_size=1_000) if workload == "pi" else fractal_job(
        height=12, width=5, kernel="python", band_rows=2
    )
    with pytest.raises(WorkerError, match=r"InjectedFault: injected fault in (block|rows) "):
        mpi_lab.run(job, backend=backend_name, workers=2, mpi=False)


def test_subinterpreters_are_closed_after_failure(monkeypatch):
    for name in ("interpreter-pool", "interpreters"):
        if not backends.availability(name).available:
            pytest.skip(backends.availability(name).reason)
    from mpi_lab.backends._subinterpreters import interpreters_module

    api = interpreters_module()
    before = len(api.list_all())
    monkeypatch.setenv(faults.ENV, "raise")
    for name in ("interpreter-pool", "interpreters"):
        with pytest.raises(WorkerError):
            mpi_lab.run(pi_job(trials=3_000, block_size=1_000), backend=name, workers=2, mpi=False)
    assert len(api.list_all()) == before


def test_interpreters_leave_no_result_queued_after_failure(monkeypatch):
    """Results a failure left unread were put by worker interpreters, which are then closed:
    such items must not outlive them (a later queue call crashed, rarely, before)."""
    if not backends.availability("interpreters").available:
        pytest.skip(backends.availability("interpreters").reason)
    from mpi_lab.backends._subinterpreters import interpreters_module

    queues = sys.modules[type(interpreters_module().create_queue()).__module__]
    monkeypatch.setenv(faults.ENV, "raise")
    with pytest.raises(WorkerError):
        mpi_lab.run(pi_job(trials=8_000, block_size=1_000), backend="interpreters", workers=2, mpi=False)
    assert [queue.qsize() for queue in queues.list_all()] == [0] * len(queues.list_all())


@pytest.mark.parametrize("backend", ["process-pool", "shared-memory"])
def test_dead_worker_process_becomes_worker_error(backend: str, monkeypatch):
    monkeypatch.setenv(faults.ENV, "exit")
    with pytest.raises(WorkerError, match="worker process died"):
        mpi_lab.run(pi_job(trials=3_000, block_size=1_000), backend=backend, workers=2, mpi=False)


def test_bad_fault_spec_is_rejected(monkeypatch):
    monkeypatch.setenv(faults.ENV, "explode@x")
    with pytest.raises(ValueError, match="MPI_LAB_FAULT"):
        faults.inject(len)


@pytest.mark.parametrize("backend", ["shared-memory", "process-pool", "thread-pool"])
def test_ctrl_c_mid_run_cleans_up(backend: str):
    """SIGINT to the whole process group, as a terminal sends it: exit 130, nothing left."""
    before = shm_segments()
    # The python kernel at this size takes ~10 s on 2 cores, so the interrupt lands mid-run.
    proc = lab("fractal", "--kernel", "python", "--height", "2000", "--width", "1500",
               "--backend", backend, "--workers", "2")
    time.sleep(2.0)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    except Exception:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()  # reaped, its pipes closed: no ResourceWarning in a later test
        raise
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("Interrupted (SIGINT) after"), err
    assert wait_session_empty(proc.pid) == []
    assert shm_segments() <= before


def test_abandon_ends_a_pool_whose_worker_died_sending_a_result():
    """A worker killed while it writes a result larger than the pipe leaves part of it there:
    ending the pool must not wait forever for the rest (Ctrl-C hung so, under load)."""
    import struct

    pool = backends.create("process-pool", 1)
    pool.start()
    try:
        assert pool.submit(abs, -1).result() == 1  # the pool's manager thread is up
        # What a worker killed mid-send leaves: a message's length, and only part of it. The
        # manager thread reads the length, then waits for the rest.
        writer = pool._executor._result_queue._writer
        os.write(writer.fileno(), struct.pack("!i", 1000) + b"x" * 10)
    finally:
        ended = threading.Thread(target=pool.abandon, daemon=True)
        ended.start()
        ended.join(timeout=20)
    assert not ended.is_alive(), "abandon hung on the result half sent"


def test_failure_record_keeps_every_field_through_pickling():
    import pickle

    from mpi_lab.core.failures import failure_of

    class Odd(ValueError):
        pass

    record = failure_of(Odd("no good"), index=7, item="'x'", traceback="tb").at(3, "node-a")
    back = pickle.loads(pickle.dumps(record))
    assert back == record
    assert (back.rank, back.host, back.index, back.item) == (3, "node-a", 7, "'x'")
    assert (back.exception, back.message, back.traceback) == ("Odd", "no good", "tb")
    assert back.is_a("ValueError") and not back.is_a("KeyError")
    assert back.line().startswith("rank 3 on host node-a: ") and "item 7" in back.line()
