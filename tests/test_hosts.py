"""Several simulated hosts (network namespaces, scripts/hosts): results and faults across hosts.

Skipped with the reason where namespaces cannot be made (not root, no CAP_NET_ADMIN).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import BACKING_ENV, is_rank

ROOT = Path(__file__).resolve().parent.parent
HOSTS = str(ROOT / "scripts" / "hosts")
FAULT_BOUND = 15.0  # seconds from the fault to the end of the job (the issue allows 30)

pytestmark = pytest.mark.timeout(240)


# scripts/hosts runs the ranks with this environment's Python (.venv or .venv-3.11).
HOSTS_ENV = {**os.environ, "VENV": sys.prefix}


def hosts(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([HOSTS, *args], capture_output=True, text=True, timeout=timeout,
                          env=HOSTS_ENV)


def _can_make_hosts() -> str:
    if not Path("/usr/sbin/ip").exists() and not Path("/sbin/ip").exists():
        return "iproute2 is not installed"
    done = hosts("check")
    return "" if done.returncode == 0 else done.stderr.strip()


_WHY_NOT = _can_make_hosts()
if _WHY_NOT:
    pytest.skip(f"simulated hosts unavailable: {_WHY_NOT}", allow_module_level=True)


def host_processes(name: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(pid) for pid in done.stdout.split()]


def wait_hosts_idle(count: int, deadline: float = 10) -> dict[str, list[int]]:
    end = time.monotonic() + deadline
    while True:
        busy = {f"mpilab-h{i}": p for i in range(1, count + 1) if (p := host_processes(f"mpilab-h{i}"))}
        if not busy or time.monotonic() > end:
            return busy
        time.sleep(0.2)


def local(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "mpi_lab", *args, "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="module", params=[2, 3], ids=["2hosts", "3hosts"])
def cluster(request: pytest.FixtureRequest):
    count = request.param
    made = hosts("up", str(count))
    assert made.returncode == 0, made.stderr
    yield count
    assert hosts("down").returncode == 0
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "mpilab-h" not in left
    for folder in {Path("/dev/shm"), Path(os.environ.get(BACKING_ENV, "/dev/shm"))}:
        assert not list(folder.glob("sm_segment.mpilab-h*"))


def run_json(*args: str) -> dict:
    done = hosts("run", "--", *args, "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pi_same_hits_as_one_host(cluster: int):
    args = ["pi", "--trials", "300001", "--block-size", "10000", "--seed", "4"]
    for schedule in ("block", "dynamic"):
        fields = run_json(*args, "--schedule", schedule)
        assert fields["hits"] == local(*args)["hits"]
        assert fields["ranks"] == 2 * cluster
        hosts_seen = {rank["host"] for rank in fields["per_rank"]}
        assert hosts_seen == {f"mpilab-h{i}" for i in range(1, cluster + 1)}
    assert wait_hosts_idle(cluster) == {}


def test_fractal_same_digest_as_one_host(cluster: int):
    args = ["fractal", "--height", "301", "--width", "157", "--maxiter", "25"]
    fields = run_json(*args, "--schedule", "cyclic")
    expected = local(*args)
    assert (fields["sha256"], fields["checksum"]) == (expected["sha256"], expected["checksum"])
    assert len({rank["host"] for rank in fields["per_rank"]}) == cluster


@contextlib.contextmanager
def start_job(*args: str, fault: str) -> Iterator[subprocess.Popen]:
    """``scripts/hosts run`` in its own session; killed and reaped whatever the test does."""
    env = {**HOSTS_ENV, "MPI_LAB_FAULT": fault}
    with subprocess.Popen([HOSTS, "run", "--", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env,
                          start_new_session=True) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()


def rank_pid(host: str, rank: int, deadline: float = 30) -> int:
    """The process of MPI rank ``rank`` on simulated host ``host``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for pid in host_processes(host):
            if is_rank(pid, rank):
                return pid
        time.sleep(0.2)
    raise AssertionError(f"rank {rank} not found on {host}")


def finish(proc: subprocess.Popen, since: float) -> tuple[str, float]:
    out, err = proc.communicate(timeout=60)  # on a timeout, start_job kills and reaps the job
    seconds = time.monotonic() - since
    print(f"job ended {seconds:.2f} s after the fault, exit {proc.returncode}")
    return out + err, seconds


@pytest.mark.parametrize("cluster", [2], indirect=True, ids=["2hosts"])
def test_sigkill_of_a_remote_rank_ends_the_job(cluster: int):
    # Rank 3 is the second rank on mpilab-h2; it hangs, so the job is mid-run when it dies.
    with start_job("pi", "--trials", "400000", fault="hang@3") as proc:
        victim = rank_pid("mpilab-h2", 3)
        time.sleep(1.0)
        assert proc.poll() is None
        os.kill(victim, signal.SIGKILL)
        said, seconds = finish(proc, time.monotonic())
    assert proc.returncode != 0
    assert seconds < FAULT_BOUND
    # Either prterun reports the killed rank, or a peer reports the lost connection first.
    assert any(words in said.lower() for words in
               ("signal 9", "killed", "unexpectedly disconnected", "socket closed")), said
    assert wait_hosts_idle(cluster) == {}


@pytest.mark.parametrize("cluster", [2], indirect=True, ids=["2hosts"])
def test_cut_link_ends_the_job_by_deadline(cluster: int):
    with start_job("pi", "--trials", "400000", "--deadline", "4", fault="hang@2") as proc:
        rank_pid("mpilab-h2", 2)
        time.sleep(1.0)
        cut = hosts("cut", "mpilab-h2")
        assert cut.returncode == 0, cut.stderr
        try:
            said, seconds = finish(proc, time.monotonic())
        finally:
            hosts("mend", "mpilab-h2")
    assert proc.returncode != 0
    assert seconds < FAULT_BOUND
    # Whichever comes first: our deadline, or Open MPI noticing the silent host (keepalive),
    # which it says itself or by terminating the ranks.
    assert any(words in said for words in ("deadline of 4 s passed", "Terminated (SIGTERM)",
                                           "lost communication with a remote daemon")), said
    assert wait_hosts_idle(cluster) == {}


@pytest.mark.parametrize("cluster", [2], indirect=True, ids=["2hosts"])
def test_sigint_to_mpiexec_ends_the_job(cluster: int):
    with start_job("pi", "--trials", "400000", fault="hang@1") as proc:
        rank_pid("mpilab-h2", 3)  # every rank is up
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal does
        said, seconds = finish(proc, time.monotonic())
    assert proc.returncode != 0
    assert seconds < FAULT_BOUND
    assert "interrupted (SIGINT)" in said
    assert wait_hosts_idle(cluster) == {}


@pytest.mark.parametrize("cluster", [2], indirect=True, ids=["2hosts"])
def test_launcher_outliving_every_rank_is_ended(cluster: int):
    # Open MPI's launcher has stayed up after all ranks were gone (about 1 run in 30 of the
    # test above, under load). Made deterministic here: the launcher is stopped, so it cannot
    # tear the job down itself, and every rank is killed.
    with start_job("pi", "--trials", "400000", fault="hang") as proc:
        ranks = [rank_pid(f"mpilab-h{1 + rank // 2}", rank) for rank in range(4)]
        launcher = next(pid for pid in host_processes("mpilab-h1") if not is_rank(pid, 0)
                        and "prterun" in Path(f"/proc/{pid}/cmdline").read_text())
        time.sleep(1.5)  # scripts/hosts polls every 0.5 s: it has seen the ranks alive
        os.kill(launcher, signal.SIGSTOP)
        for pid in ranks:
            os.kill(pid, signal.SIGKILL)
        said, seconds = finish(proc, time.monotonic())
    assert proc.returncode != 0
    assert "every rank has ended but mpiexec has not" in said, said
    assert seconds < FAULT_BOUND
    assert wait_hosts_idle(cluster) == {}
