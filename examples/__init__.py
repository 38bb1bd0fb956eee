"""Example workloads for ``python -m mpi_lab run``: copy one to start your own."""
