"""Setting MPI up on a machine or cluster, not running it: was this process started by a
launcher (``launch_env``), Open MPI's parameter files (``mca``), how the project's scripts and
tests start ``mpiexec`` (``mpiexec``), and cores per rank (``pinning``).

May import: ``mpi_lab.core``. Nothing here imports ``mpi4py``.
"""
