"""The benchmark matrix: workloads by backends by workers by ranks, its table and plots
(``matrix``).

May import: every room below the API (``present``, ``mpi``, ``local``, ``backends``,
``workloads``, ``cluster``, ``core``) and ``mpi_lab.info``.
"""
