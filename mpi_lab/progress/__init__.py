"""How far a run is: the meter of items done (``meter``), the live line on stderr
(``live_line``), and every rank's progress gathered on rank 0 (``tally``).

May import: ``mpi_lab.core``.
"""
