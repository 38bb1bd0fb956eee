"""mpi_lab: one lab for Python's parallel models, from threads to MPI."""

__version__ = "0.1.0"
