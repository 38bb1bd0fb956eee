"""What a person reads: the text report (``text``), files written atomically (``files``: a
run's output, which the workload's ``save`` hook writes, and bench's results), the speed-up
plots (``images``), where a run's time went (``breakdown``: ``--explain``'s text and bench's
stacked bars) and each worker's items (``timeline``: PNG or Chrome trace).

May import: ``mpi_lab.local``, ``mpi_lab.core``.
"""
