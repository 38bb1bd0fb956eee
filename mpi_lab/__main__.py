"""``python -m mpi_lab``: the CLI, with MPI's all-ranks failure guarantee when launched by MPI."""

import gc
import sys

from mpi_lab.cli import main
from mpi_lab.mpi.guard import guarded

if __name__ == "__main__":
    code = guarded(main)
    # Interpreter shutdown runs full garbage collections over every object the imports made
    # (click alone brings inspect, ast and typing): 7 ms of every rank's exit here, for memory
    # the OS takes back anyway. Frozen objects are left out of those collections; atexit
    # handlers (MPI_Finalize, pool shutdown) and stream flushing still run.
    gc.freeze()
    sys.exit(code)
