"""``python -m mpi_lab``: the CLI, with MPI's all-ranks failure guarantee when launched by MPI."""

import gc
import sys

from mpi_lab.cli import main, run_ended
from mpi_lab.mpi.guard import guarded

if __name__ == "__main__":
    code = guarded(main)
    if run_ended():
        from mpi_lab.endings import leave_now

        leave_now(code)
    # Interpreter shutdown runs full garbage collections over every object the imports made
    # (click alone brings inspect, ast and typing), for memory the OS takes back anyway.
    # Frozen objects are left out of those collections; atexit handlers (MPI_Finalize, pool
    # shutdown) and stream flushing still run.
    gc.freeze()
    sys.exit(code)
