"""The command line's all-ranks exit rule: under MPI, a rank never leaves alone while its peers
wait.

Like ``python -m mpi4py``: an unhandled exception, Ctrl-C or a non-zero exit that the other
ranks did not agree on calls ``MPI_Abort``, which ends every rank of the job. (A script's rules
are ``exits``'; this module stays small: every ``python -m mpi_lab`` loads it.)
"""

from __future__ import annotations

from collections.abc import Callable

from mpi_lab.core.errors import UNCAUGHT_EXIT
from mpi_lab.endings import interrupts
from mpi_lab.mpi import comm as mpi_comm


def finish(code: int, agreed: bool) -> int:
    """Return ``code``; abort the job instead if it is a failure only this rank knows of."""
    if code and not agreed and mpi_comm.active():
        mpi_comm.abort(code)
    return code


def guarded(main: Callable[[], int]) -> int:
    """Run ``main``; any exception escaping it under MPI ends the whole job."""
    interrupts.cli_takes_charge()
    try:
        return main()
    except BaseException as exc:
        if mpi_comm.active() and not (isinstance(exc, SystemExit) and not exc.code):
            import traceback  # here: every rank's start-up would pay for it (textwrap too)

            traceback.print_exc()
            mpi_comm.abort(UNCAUGHT_EXIT)
        raise
