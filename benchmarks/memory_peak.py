"""Peak memory of a big fractal run against its image: memory grows with the work, once.

    .venv/bin/python benchmarks/memory_peak.py [--height 16000] [--width 12000]
        [--backends serial,thread-pool,shared-memory] [--ranks 2] [--limit 1.15]

Runs ``python -m mpi_lab fractal --json`` at the given size, one case at a time (each needs
about the image's memory; run it on a machine with a few times that free): locally with each
backend, then under ``mpiexec -n RANKS`` (``--ranks 0``: not at all; as root, export
OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1). Each run reports its own peak
resident set (``ru_maxrss`` of the process, rank 0's under mpiexec: worker processes are not
counted) at exit. Prints a Markdown table of the peak, the peak over the int32 image
(height x width x 4 bytes) and the peak of the same command at 16x12 (the interpreter,
NumPy and the lab: context, not subtracted); exits 1 if any ratio is above ``--limit``, or if
the runs disagree on the sha256. Not a test: nothing in CI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PEAK = re.compile(r"^memory_peak: rank (\d+) peak (\d+)$", re.MULTILINE)
TINY = ("--height", "16", "--width", "12")
MPI_TIMEOUT = 300  # a stuck mpiexec must not hold the table for ever


def peak_bytes() -> int:
    """This process's peak resident set so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def probe(argv: list[str]) -> None:
    """Run ``python -m mpi_lab ARGV`` in this process, then say its peak on stderr."""
    from mpi_lab.cluster.detect import env_rank

    sys.argv = ["mpi_lab", *argv]
    try:
        runpy.run_module("mpi_lab", run_name="__main__", alter_sys=True)
    finally:
        print(f"memory_peak: rank {env_rank()} peak {peak_bytes()}", file=sys.stderr,
              flush=True)


class Case(NamedTuple):
    """A command to measure: ``backend`` locally, or ``ranks`` ranks of mpiexec."""

    backend: str
    ranks: int = 0

    @property
    def name(self) -> str:
        return f"mpiexec -n {self.ranks}, rank 0" if self.ranks else self.backend

    def command(self, size: tuple[str, ...]) -> list[str]:
        python = [sys.executable, __file__, "--probe", "fractal", *size, "--json"]
        if not self.ranks:
            return [*python, "--backend", self.backend]
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or "mpiexec"
        return ["timeout", str(MPI_TIMEOUT), mpiexec, "-n", str(self.ranks), *python]


class Measure(NamedTuple):
    peak: int
    sha256: str


def measure(case: Case, size: tuple[str, ...]) -> Measure:
    """Rank 0's (or the process's) peak, and the fractal's sha256, of one run."""
    done = subprocess.run(case.command(size), capture_output=True, text=True, check=False,
                          cwd=ROOT)
    peaks = {int(rank): int(peak) for rank, peak in PEAK.findall(done.stderr)}
    if done.returncode != 0 or 0 not in peaks:
        sys.exit(f"{case.name}: exit {done.returncode}\n{done.stderr.strip()}")
    return Measure(peaks[0], json.loads(done.stdout)["sha256"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--height", type=int, default=16000)
    parser.add_argument("--width", type=int, default=12000)
    parser.add_argument("--backends", default="serial,thread-pool,shared-memory")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--limit", type=float, default=1.15)
    options = parser.parse_args()
    size = ("--height", str(options.height), "--width", str(options.width))
    image = options.height * options.width * 4  # int32 pixels: the answer itself
    cases = [Case(backend) for backend in options.backends.split(",") if backend]
    if options.ranks:
        cases.append(Case("auto", options.ranks))
    print(f"fractal {options.height}x{options.width}: image {image / 1e6:.0f} MB (int32)\n")
    print("| run | peak RSS (MB) | peak / image | 16x12 run (MB) |")
    print("|---|---|---|---|")
    over, digests = [], set()
    for case in cases:
        found = measure(case, size)
        baseline = measure(case, TINY).peak
        ratio = found.peak / image
        digests.add(found.sha256)
        if ratio > options.limit:
            over.append(case.name)
        print(f"| {case.name} | {found.peak / 1e6:.0f} | {ratio:.3f} | {baseline / 1e6:.0f} |",
              flush=True)
    if len(digests) > 1:
        print(f"\nthe runs disagree: sha256 {sorted(digests)}")
        return 1
    if over:
        print(f"\nabove {options.limit}: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        os.chdir(ROOT)
        probe(sys.argv[2:])
    else:
        sys.exit(main())
