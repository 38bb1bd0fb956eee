"""What every other room of mpi_lab shares: the errors and their exit codes (``errors``), the
failure record a worker or rank reports (``failures``), the environment variables the lab reads
(``env``), the MPI protocol's constants (``protocol``), results typed in place (``results``),
the call a worker makes around a kernel (``kernel_calls``), lazy plans, polling, the machine's
cores and memory, and the faults the tests inject.

May import: the standard library only (and itself). Everything else may import it.
"""
