"""One process's part of a run: a workload with its parameters (``jobs``), its items through a
backend (``runner``), results in their slots of the plan (``slots``), what the run reports
(``report``), scripts that worker processes would run again (``mainguard``), and where the
run's time went (``timing`` measures, ``explaining`` puts the ranks' parts together).

May import: ``mpi_lab.backends``, ``mpi_lab.workloads``, ``mpi_lab.endings``,
``mpi_lab.progress``, ``mpi_lab.core``. Knows nothing of MPI: ``mpi_lab.mpi`` builds on it.
"""
