"""Per-collective costs of mpi_lab's coordinator, measured under mpiexec.

    mpiexec -n N python benchmarks/mpi_overheads.py

Times (median of repeats, on rank 0) the steps a run adds on top of the computation: the bcast
of the plan verdict, the scatter of π blocks, the allgather of outcomes, the gather of π counts,
and the Gatherv of the default-size fractal's rows (4000 x 3000 pixels in the wire type, one
byte each at 20 iterations: 12 MB). Prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
from mpi4py import MPI

from mpi_lab.local.jobs import Job
from mpi_lab.local.report import RankReport
from mpi_lab.mpi import schedules
from mpi_lab.mpi.outcome import Outcome

REPEATS = 15


def timed(comm: MPI.Comm, step) -> float:
    """Median seconds of ``step`` over the repeats, the slowest rank's (a collective ends when
    its last rank does)."""
    samples = []
    for _ in range(REPEATS):
        comm.Barrier()
        started = time.perf_counter()
        step()
        samples.append(time.perf_counter() - started)
    return max(comm.allgather(statistics.median(samples)))


def main() -> None:
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    blocks = Job.of("pi").plan()
    shares = ([schedules.take(blocks, indices)
               for indices in schedules.split(len(blocks), size, "block")] if rank == 0 else None)
    outcome = Outcome(RankReport(rank, "host", 1, 10, 1.0))
    rows = 4000 // size + (1 if rank < 4000 % size else 0)
    wire = np.uint8  # the fractal's wire type at 20 iterations: one byte a pixel
    part = np.zeros((rows, 3000), dtype=wire)
    counts = comm.allgather(part.size)
    received = np.empty(sum(counts), dtype=wire) if rank == 0 else None
    result = {
        "ranks": size,
        "bcast_verdict_s": timed(comm, lambda: comm.bcast(None, root=0)),
        "scatter_pi_blocks_s": timed(comm, lambda: comm.scatter(shares, root=0)),
        "allgather_outcomes_s": timed(comm, lambda: comm.allgather(outcome)),
        "gather_pi_counts_s": timed(comm, lambda: comm.gather(123456, root=0)),
        "gatherv_fractal_s": timed(
            comm, lambda: comm.Gatherv(part.ravel(), (received, counts) if rank == 0 else None,
                                       root=0)
        ),
    }
    if rank == 0:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
