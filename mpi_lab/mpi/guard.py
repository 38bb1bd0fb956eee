"""The all-ranks exit rule: under MPI, a rank never leaves alone while its peers wait.

Like ``python -m mpi4py``: an unhandled exception, Ctrl-C or a non-zero exit that the other
ranks did not agree on calls ``MPI_Abort``, which ends every rank of the job.
"""

from __future__ import annotations

from collections.abc import Callable

from mpi_lab.mpi import comm


class _Owner:
    cli = False  # ``guarded`` runs this process (the command line): its rules, not a script's


def in_charge() -> bool:
    """The command line runs this process, and these rules end it (not ``exits``')."""
    return _Owner.cli


def finish(code: int, agreed: bool) -> int:
    """Return ``code``; abort the job instead if it is a failure only this rank knows of."""
    if code and not agreed and comm.active():
        comm.abort(code)
    return code


def guarded(main: Callable[[], int]) -> int:
    """Run ``main``; any exception escaping it under MPI ends the whole job."""
    _Owner.cli = True
    try:
        return main()
    except BaseException as exc:
        if comm.active() and not (isinstance(exc, SystemExit) and not exc.code):
            import traceback  # here: every rank's start-up would pay for it (textwrap too)

            traceback.print_exc()
            comm.abort(1)
        raise
