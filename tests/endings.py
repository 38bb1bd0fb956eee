"""Every way a run can end, measured: exit code, time to end, message and what it left behind.

``run_case(Case(...))`` starts one ``python -m mpi_lab pi`` run (locally, or under ``mpiexec -n
N`` with the user's environment, ``launcher.plain_env()``), waits until it is really working,
ends it the way the case says, and returns an ``Outcome``: the exit code, the seconds from the
signal (from the start for ``deadline``, ``success`` and ``worker-exception``) to the end of the
launcher (or of the local process), stderr, and the leftovers once it ended: live processes of
the run, new ``/dev/shm`` entries, new ``/tmp/pymp-*`` and ``/tmp/ompi.*`` folders. It then
kills and removes whatever it found, so that one case never affects the next.

Each run carries a unique ``MPI_LAB_CASE=<uuid>`` in its environment: processes that left the
run's session (a forkserver, a resource tracker, a rank's daemon) are still found by it. Another
engineer's runs may go on at the same time, so a new entry counts as the run's only if the
run's processes were seen holding it (sampled while it starts, just before the signal, and
every second until the end), it is named after one of the run's pids (``mpi_lab_PID_*``,
``ompi.PID``), or the run's stderr names it (Python's resource tracker lists the leaks it
finds). New entries that no one claims are listed in ``notes``, neither counted nor removed;
entries held by a live process outside the run are ignored. The peak RSS is the run's
processes' RSS summed, the highest of those samples.

Used by ``tests/test_endings.py`` and ``benchmarks/stress_endings.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from procs import (
    BACKING_ENV,
    _stat_table,
    descendants,
    is_rank,
    scope_env,
    session_members,
    with_environment,
)

from mpi_lab.cluster import launcher

ROOT = Path(__file__).resolve().parent.parent

BACKENDS = ("serial", "threads", "thread-pool", "process-pool", "shared-memory",
            "interpreter-pool", "interpreters", "asyncio")
PROCESS_BACKENDS = ("process-pool", "shared-memory")
THREAD_BACKENDS = ("threads", "thread-pool", "interpreter-pool", "interpreters", "asyncio")
ENDINGS = ("success", "worker-exception", "sigint", "sigterm", "sigkill-rank",
           "sigkill-launcher", "deadline")
SIGNAL_ENDINGS = ("sigint", "sigterm", "sigkill-rank", "sigkill-launcher")
MPI_ONLY = ("sigkill-rank", "sigkill-launcher")

# A run far too long to finish during a case, yet quick to plan: its 10^7 blocks are made as
# they are handed out.
LONG_TRIALS = 10**12
SHORT_TRIALS = 400_000  # success and worker-exception: over in well under a second
BLOCK_SIZE = 100_000
DEADLINE = 2  # seconds, for --deadline

MARKER = "MPI_LAB_CASE"
SOURCE_ENV = "MPI_LAB_ENDINGS_SOURCE"
SHM_PREFIXES = ("mpi_lab_", "sem.mp-", "sm_segment.")
TMP_PREFIXES = {"pymp": "pymp-", "ompi": "ompi."}

READY_TIMEOUT = 30.0  # seconds for the run to be working
SETTLE = 0.5  # seconds more, once it is, before the signal
END_TIMEOUT = 20.0  # seconds from the signal (or start) for the launcher to end
LEFTOVER_WAIT = 5.0  # seconds for the run's processes to go once the launcher ended
POLL = 0.05
SAMPLE = 0.25  # seconds between looks at what the run's processes hold, while starting


@dataclasses.dataclass(frozen=True)
class Case:
    """One run and how it ends. ``ranks`` None: local; N: ``mpiexec -n N``."""

    ending: str
    backend: str = "serial"
    ranks: int | None = None
    workers: int | None = None  # None: 1 for serial, else 2
    trials: int | None = None  # None: LONG_TRIALS, or SHORT_TRIALS for success/worker-exception
    deadline: float = DEADLINE
    hung: bool = False  # every kernel hangs (MPI_LAB_FAULT=hang): nothing may wait for one
    progress: bool = False  # --progress: reporter threads on every rank, rank 0's line

    def __post_init__(self) -> None:
        if self.ending not in ENDINGS:
            raise ValueError(f"unknown ending {self.ending!r}; choose from {', '.join(ENDINGS)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}")
        if self.ranks is None and self.ending in MPI_ONLY:
            raise ValueError(f"{self.ending} needs mpiexec (ranks)")

    @property
    def where(self) -> str:
        return "local" if self.ranks is None else "mpiexec"

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers is not None else 1 if self.backend == "serial" else 2

    @property
    def trial_count(self) -> int:
        if self.trials is not None:
            return self.trials
        return SHORT_TRIALS if self.ending in ("success", "worker-exception") else LONG_TRIALS

    @property
    def name(self) -> str:
        where = "local" if self.ranks is None else f"mpiexec-n{self.ranks}"
        return (f"{where} {self.backend} {self.ending}{' hung' if self.hung else ''}"
                f"{' progress' if self.progress else ''}")

    @property
    def id(self) -> str:  # for pytest ids
        return self.name.replace(" ", "-")

    def args(self) -> list[str]:
        args = ["pi", "--trials", str(self.trial_count), "--block-size", str(BLOCK_SIZE),
                "--backend", self.backend, "--workers", str(self.worker_count)]
        if self.ending == "deadline":
            args += ["--deadline", f"{self.deadline:g}"]
        if self.progress:
            args.append("--progress")
        return args


@dataclasses.dataclass
class Outcome:
    case: Case
    returncode: int | None  # None: still running after END_TIMEOUT (then killed)
    seconds: float | None  # signal (or start) to the end of the launcher / local process
    gone_seconds: float | None  # signal (or start) to every process of the run gone
    ready: bool  # the run was working (ranks, workers) before it was signalled
    ready_seconds: float | None  # start to working
    signalled: bool
    stdout: str
    stderr: str
    processes: list[str]  # leftovers: "PID command" of processes still there LEFTOVER_WAIT on
    shm: list[str]  # new /dev/shm entries (mpi_lab_*, sem.mp-*, sm_segment.*)
    pymp: list[str]  # new /tmp/pymp-* folders
    ompi: list[str]  # new /tmp/ompi.* folders
    peak_rss_mib: float  # the whole run's RSS (sum over its processes), highest sampled
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.stderr.splitlines() if line.strip()]

    @property
    def last_line(self) -> str:
        lines = self.lines
        return lines[-1] if lines else ""

    @property
    def last_message(self) -> str:
        """The last stderr line with a letter in it (Open MPI ends its boxes with rulers)."""
        return next((line for line in reversed(self.lines) if any(map(str.isalpha, line))), "")

    @property
    def leftovers(self) -> dict[str, list[str]]:
        return {"processes": self.processes, "shm": self.shm, "pymp": self.pymp,
                "ompi": self.ompi}

    def describe(self) -> str:
        """Everything measured, for assertion messages."""
        seconds = "-" if self.seconds is None else f"{self.seconds:.2f}"
        gone = "-" if self.gone_seconds is None else f"{self.gone_seconds:.2f}"
        parts = [
            (f"{self.case.name}: exit {self.returncode}, ended after {seconds} s,"
             f" all gone after {gone} s, ready={self.ready}"),
            *(f"note: {note}" for note in self.notes),
            *(f"left {kind}: {items}" for kind, items in self.leftovers.items() if items),
            "stderr (last 15 lines):",
            *(f"  | {line}" for line in self.lines[-15:]),
        ]
        return "\n".join(parts)

    def to_dict(self) -> dict:
        fields = dataclasses.asdict(self)
        fields["case"] = self.case.name
        fields["last_line"] = self.last_line
        return fields


# -- looking at processes ------------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return b""


def _cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace").strip()


def _status_field(pid: int, field: str) -> int | None:
    for line in _read(f"/proc/{pid}/status").decode(errors="replace").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _is_worker(pid: int, table: dict[int, tuple[str, list[str]]]) -> bool:
    """A multiprocessing worker: a child of a forkserver, a spawned child, or a forked child
    (its command line is its parent's: fork copies it)."""
    command = _cmdline(pid)
    if "--multiprocessing-fork" in command:
        return True
    parent = int(table[pid][1][1]) if pid in table else 0
    if command and command == _cmdline(parent):
        return True
    return "multiprocessing.forkserver" in command and "multiprocessing.forkserver" in _cmdline(
        parent)


_OPEN_MPI = launcher.flavour() == "openmpi"


def _working(case: Case, launcher_pid: int) -> tuple[bool, dict[int, int]]:
    """Whether every rank (or the local process) is running with its workers; the rank pids."""
    table = _stat_table()
    if case.ranks is None:
        ranks = {0: launcher_pid} if launcher_pid in table else {}
        count = 1
    else:
        below = descendants(launcher_pid)
        count = case.ranks
        ranks = {}
        for rank in range(count):
            pid = next((pid for pid in below if is_rank(pid, rank)), None)
            if pid is not None:
                ranks[rank] = pid
    if len(ranks) < count:
        return False, ranks
    for pid in ranks.values():
        if case.ranks is not None and _OPEN_MPI and b"/sm_segment." not in _read(
                f"/proc/{pid}/maps"):
            return False, ranks  # MPI_Init not done: Open MPI maps its shared segment there
        if case.backend in PROCESS_BACKENDS:
            workers = [child for child in descendants(pid) if _is_worker(child, table)]
            if len(workers) < case.worker_count:
                return False, ranks
        elif (case.ranks is None and case.backend in THREAD_BACKENDS
              and (_status_field(pid, "Threads") or 0) < 1 + case.worker_count):
            # Locally the thread count tells (under MPI, MPI's own threads blur it).
            return False, ranks
    return True, ranks


def _rss_mib(pids: list[int]) -> float:
    return sum(_status_field(pid, "VmRSS") or 0 for pid in pids) / 1024


# -- looking at files ----------------------------------------------------------------------


def _folders() -> tuple[list[Path], list[Path]]:
    """Where a run's shared-memory files and temporary folders go: /dev/shm and /tmp, and the
    running test's own folders (``procs.Scope``) when there is one."""
    scope = scope_env()
    shm = [Path("/dev/shm"), *([Path(scope[BACKING_ENV])] if BACKING_ENV in scope else [])]
    tmp = [Path("/tmp"), *([Path(scope["TMPDIR"])] if "TMPDIR" in scope else [])]
    return [p for p in shm if p.is_dir()], [p for p in tmp if p.is_dir()]


def _entries() -> dict[str, set[Path]]:
    """Our kinds of shared-memory entries and temporary folders that exist now."""
    found: dict[str, set[Path]] = {"shm": set(), "pymp": set(), "ompi": set()}
    shm_folders, tmp_folders = _folders()
    for shm in shm_folders:
        found["shm"] |= {p for p in shm.iterdir()
                         if p.name.startswith(SHM_PREFIXES) and ".mpilab-h" not in p.name}
    for kind, prefix in TMP_PREFIXES.items():
        for tmp in tmp_folders:
            found[kind] |= set(tmp.glob(prefix + "*"))
    return found


def _unix_sockets() -> dict[int, str]:
    """Bound Unix sockets: inode -> path."""
    found = {}
    for line in _read("/proc/net/unix").decode(errors="replace").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[-1].startswith("/"):
            found[int(fields[6])] = fields[-1]
    return found


def _holdings(pids: list[int]) -> tuple[set[tuple[int, int]], set[str]]:
    """What ``pids`` hold under /dev/shm and /tmp: (device, inode) of the files they map or
    open (a semaphore is mapped under a temporary name, hence inodes), and the paths of those
    files and of the Unix sockets they listen on."""
    files: set[tuple[int, int]] = set()
    paths: set[str] = set()
    sockets = _unix_sockets()
    for pid in pids:
        for line in _read(f"/proc/{pid}/maps").decode(errors="replace").splitlines():
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith(("/dev/shm/", "/tmp/")):
                major, minor = fields[3].split(":")
                files.add((os.makedev(int(major, 16), int(minor, 16)), int(fields[4])))
                paths.add(fields[5].removesuffix(" (deleted)"))
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError, ValueError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        if (path := sockets.get(int(target[8:-1]))) is not None:
                            paths.add(path)
                    elif target.startswith(("/dev/shm/", "/tmp/")):
                        info = os.stat(f"/proc/{pid}/fd/{fd}")
                        files.add((info.st_dev, info.st_ino))
                        paths.add(target.removesuffix(" (deleted)"))
    return files, paths


def _held(entries: set[Path], holdings: tuple[set[tuple[int, int]], set[str]]) -> set[Path]:
    """Those of ``entries`` (files or folders) that ``holdings`` include."""
    files, paths = holdings
    held = set()
    for entry in entries:
        try:
            info = entry.lstat()
        except OSError:
            continue
        name = str(entry)
        if (info.st_dev, info.st_ino) in files or any(
            path == name or path.startswith(name + "/") for path in paths
        ):
            held.add(entry)
    return held


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


# -- running -------------------------------------------------------------------------------


@contextlib.contextmanager
def _default_signals() -> Iterator[None]:
    """Children inherit an *ignored* SIGINT (a shell's background job): restore the default
    while starting one, or Ctrl-C would not reach Python at all."""
    changed = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) == signal.SIG_IGN:
                changed[sig] = signal.signal(sig, signal.SIG_DFL)
    try:
        yield
    finally:
        for sig, handler in changed.items():
            signal.signal(sig, handler)


def _reader(stream) -> tuple[threading.Thread, list[str]]:
    chunks: list[str] = []

    def read() -> None:
        with contextlib.suppress(ValueError, OSError):
            chunks.extend(iter(lambda: stream.read(65536), ""))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, chunks


def command(case: Case) -> list[str]:
    args = case.args()
    if case.ranks is None:
        return [sys.executable, "-m", "mpi_lab", *args]
    return [launcher.mpiexec_path(), "-n", str(case.ranks), sys.executable, "-m", "mpi_lab",
            *args]


def environment(case: Case, marker: str, source: Path) -> dict[str, str]:
    """The user's environment (no MPI tuning variable), the run's marker, the fault if any."""
    env = {**launcher.plain_env(), **scope_env()}
    key, _, value = marker.partition("=")
    env[key] = value
    if case.ending == "worker-exception":
        env["MPI_LAB_FAULT"] = "raise"
    elif case.hung:
        env["MPI_LAB_FAULT"] = "hang"
    if source != ROOT:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return env


class _Run:
    """One started case: its process, marker, the entries before it, what it was seen with."""

    def __init__(self, case: Case, source: Path) -> None:
        self.case = case
        self.marker = f"{MARKER}={uuid.uuid4().hex}"
        self.before = _entries()
        self.seen: set[int] = set()  # every process of the run ever seen
        self.claimed: set[Path] = set()  # new entries seen held by the run's processes
        self.peak_rss = 0.0  # MiB, the run's processes together, highest sampled
        self.outcome: Outcome | None = None
        self.reaped = False
        self.started = time.monotonic()
        with _default_signals():
            self.proc = subprocess.Popen(
                command(case), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True,
                cwd=source, env=environment(case, self.marker, source))
        self.seen.add(self.proc.pid)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.readers = [_reader(self.proc.stdout), _reader(self.proc.stderr)]

    def ended(self, timeout: float = 0.0) -> bool:
        return bool(select.select([self.pidfd], [], [], max(0.0, timeout))[0])

    def pids(self) -> list[int]:
        """Live processes of the run: its session, and anything carrying its marker."""
        found = sorted(set(session_members(self.proc.pid)) | set(with_environment(self.marker)))
        self.seen.update(found)
        return found

    def new(self) -> dict[str, set[Path]]:
        now = _entries()
        return {kind: now[kind] - self.before[kind] for kind in now}

    def sample(self, pids: list[int] | None = None) -> None:
        """Note the new entries the run's processes hold now, that carry one of its pids, or that
        its stderr names."""
        pids = self.pids() if pids is None else pids
        self.peak_rss = max(self.peak_rss, _rss_mib(pids))
        new = set().union(*self.new().values())
        self.claimed |= _held(new, _holdings(pids))
        self.claimed |= {entry for entry in new if any(
            entry.name.startswith((f"mpi_lab_{pid}_", f"ompi.{pid}")) for pid in self.seen)}
        # Python's resource tracker names the semaphores and blocks it found leaked.
        said = "".join(self.readers[1][1])
        self.claimed |= {entry for entry in new if entry.parent == Path("/dev/shm")
                         and f"'/{entry.name.removeprefix('sem.')}'" in said}

    def leftovers(self) -> tuple[dict[str, set[Path]], set[Path]]:
        """New entries the run left, by kind, and new entries nobody claimed (another run's, or
        made by this one after its last sample). Entries that a live process outside the run
        holds are neither: another run is using them."""
        self.sample()
        new = self.new()
        ours = set(self.pids())
        others = [pid for pid in _stat_table() if pid not in ours and pid != os.getpid()]
        held = _held(set().union(*new.values()), _holdings(others))
        left = {kind: (paths - held) & self.claimed for kind, paths in new.items()}
        unclaimed = set().union(*new.values()) - held - self.claimed
        return left, unclaimed

    def clean(self) -> None:
        """SIGKILL every process of the run still there, then remove the entries it left."""
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        end = time.monotonic() + 10
        while (left := self.pids()) and time.monotonic() < end:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        for paths in self.leftovers()[0].values():
            for path in paths:
                _remove(path)

    def close(self) -> tuple[str, str]:
        """Reap the launcher if still needed; its stdout and stderr."""
        if not self.reaped:
            with contextlib.suppress(ChildProcessError, subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        os.close(self.pidfd)
        texts = []
        for thread, chunks in self.readers:
            thread.join(timeout=5)
            texts.append("".join(chunks))
        self.proc.stdout.close()
        self.proc.stderr.close()
        return texts[0], texts[1]


def run_case(case: Case, source: Path | None = None) -> Outcome:
    """Run ``case`` once, measure how it ended and what it left, then clean up after it.

    ``source``: the tree whose ``mpi_lab`` runs, to compare versions (default: the folder in
    ``MPI_LAB_ENDINGS_SOURCE``, else this repository).
    """
    source = source or Path(os.environ.get(SOURCE_ENV) or ROOT)
    run = _Run(case, source.resolve())
    try:
        outcome = _measure(run)
    finally:
        run.clean()  # whatever happened, an interrupted measure too
        stdout, stderr = run.close()
    outcome.stdout, outcome.stderr = stdout, stderr
    return outcome


def _signal(case: Case, launcher_pid: int, ranks: dict[int, int]) -> str | None:
    """Send the case's signal; a note if it could not be sent."""
    if case.ending == "sigint" and case.ranks is None:
        os.killpg(launcher_pid, signal.SIGINT)  # as a terminal's Ctrl-C
    elif case.ending in ("sigint", "sigterm"):
        os.kill(launcher_pid, signal.SIGINT if case.ending == "sigint" else signal.SIGTERM)
    elif case.ending == "sigkill-launcher":
        os.kill(launcher_pid, signal.SIGKILL)
    elif (victim := ranks.get(1)) is not None:  # sigkill-rank
        os.kill(victim, signal.SIGKILL)
    else:
        return "rank 1 not found: nothing killed"
    return None


def _measure(run: _Run) -> Outcome:
    case, proc, notes = run.case, run.proc, []
    # 1. Wait until the run really works (or ends by itself).
    ready, ranks, ready_at, sampled = False, {}, None, 0.0
    while time.monotonic() - run.started < READY_TIMEOUT and not run.ended():
        ready, ranks = _working(case, proc.pid)
        if ready or time.monotonic() - sampled > SAMPLE:
            run.sample()
            sampled = time.monotonic()
        if ready:
            ready_at = time.monotonic()
            break
        time.sleep(POLL)
    if not ready:
        notes.append("ended before it was working" if run.ended() else
                     f"not working after {READY_TIMEOUT:g} s (ranks found: {sorted(ranks)})")

    # 2. End it as the case says.
    signalled, origin = False, run.started
    if case.ending in SIGNAL_ENDINGS and not run.ended(SETTLE if ready else 0.0):
        run.sample()
        if (note := _signal(case, proc.pid, ranks)) is not None:
            notes.append(note)
        signalled = True
        origin = time.monotonic()
    elif case.ending in SIGNAL_ENDINGS:
        notes.append("ended before the signal")

    # 3. Wait for the launcher (or the local process) to end; look around once a second.
    returncode = seconds = None
    bound = origin + END_TIMEOUT
    while not run.ended(min(1.0, bound - time.monotonic())) and time.monotonic() < bound:
        run.sample()
    if run.ended():
        seconds = time.monotonic() - origin
        _, status = os.waitpid(proc.pid, 0)
        run.reaped = True
        proc.returncode = returncode = os.waitstatus_to_exitcode(status)
    else:
        notes.append(f"still running {END_TIMEOUT:g} s on: killed")

    # 4. Leftovers: processes get LEFTOVER_WAIT to go; files are looked at once they went.
    end = time.monotonic() + LEFTOVER_WAIT
    while (left := run.pids()) and time.monotonic() < end:
        run.sample(left)
        time.sleep(0.1)
    gone_seconds = None if left else time.monotonic() - origin
    processes = [f"{pid} {_cmdline(pid)[:200]}" for pid in left]
    found, unclaimed = run.leftovers()
    if unclaimed:
        notes.append("new entries no process of this run was seen holding (another run's?"
                     f" neither counted nor removed): {sorted(str(p) for p in unclaimed)}")
    return Outcome(
        case=case, returncode=returncode, seconds=seconds, gone_seconds=gone_seconds,
        ready=ready, ready_seconds=None if ready_at is None else ready_at - run.started,
        signalled=signalled, stdout="", stderr="", processes=processes,
        shm=sorted(p.name for p in found["shm"]), pymp=sorted(str(p) for p in found["pymp"]),
        ompi=sorted(str(p) for p in found["ompi"]), peak_rss_mib=run.peak_rss, notes=notes,
    )


def parse_case(text: str) -> Case:
    """``local:BACKEND:ENDING`` or ``mpiN:BACKEND:ENDING`` (e.g. ``mpi2:shared-memory:sigint``)."""
    where, backend, ending = text.split(":")
    ranks = None if where == "local" else int(where.removeprefix("mpi"))
    return Case(ending=ending, backend=backend, ranks=ranks)


def main(argv: list[str]) -> int:
    """``python tests/endings.py [--source DIR] CASE...``: run each case once, say what it did."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("cases", nargs="+", metavar="CASE",
                        help="local:BACKEND:ENDING or mpiN:BACKEND:ENDING")
    parser.add_argument("--source", type=Path, default=None,
                        help="tree whose mpi_lab runs (default: this repository)")
    options = parser.parse_args(argv)
    for text in options.cases:
        outcome = run_case(parse_case(text), source=options.source)
        print(outcome.describe(), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
