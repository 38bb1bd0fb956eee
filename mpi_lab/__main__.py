"""``python -m mpi_lab``: the CLI, with MPI's all-ranks failure guarantee when launched by MPI."""

import gc
import sys
import threading

from mpi_lab.cli import main, run_ended
from mpi_lab.mpi.abort_rule import guarded


def _kernels_still_running() -> bool:
    """Threads of an abandoned pool still run a kernel (a failure stopped the pool): the
    interpreter would wait for them at exit."""
    main_thread = threading.main_thread()
    return any(thread.is_alive() and not thread.daemon and thread is not main_thread
               for thread in threading.enumerate())


if __name__ == "__main__":
    # What the imports made lives as long as the process: out of the garbage collector's
    # sight, the collections a run triggers scan only what the run makes.
    gc.freeze()
    code = guarded(main)
    if run_ended() or (code and _kernels_still_running()):
        from mpi_lab.endings.interrupts import leave_now
        from mpi_lab.mpi import comm

        if not run_ended():
            comm.finalize()  # every rank failed together: they leave together
        leave_now(code)
    # Interpreter shutdown runs full garbage collections over every object the imports and the
    # run made (click alone brings inspect, ast and typing), for memory the OS takes back
    # anyway. Frozen objects are left out of those collections; atexit handlers (MPI_Finalize,
    # pool shutdown) and stream flushing still run.
    gc.freeze()
    sys.exit(code)
