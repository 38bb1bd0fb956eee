"""How a run ends when it does not finish: signals and the deadline turned into one exception,
line and exit code (``interrupts``); workers and ranks that end with their owner
(``lifeline``). The MPI deadline's backstop (``mpi.watchdog``) lives with the MPI runtime,
since it calls MPI.

May import: ``mpi_lab.progress``, ``mpi_lab.cluster``, ``mpi_lab.core``.
"""
