"""MPI across ranks: launch detection, lazy mpi4py, the coordinator and its failure rules.

Nothing here imports ``mpi4py.MPI`` at module level: a plain ``python -m mpi_lab`` never starts
MPI, and worker processes started inside a rank never join the MPI job by accident.
"""

ROOT = 0  # the rank that plans, hands out and gathers
