"""The MPI runtime: a run made by the ranks of an MPI job together.

``coordinator`` (the MPI team of the run frame: plan on rank 0, hand out, map, gather),
``schedules`` (registered strategies: how rank 0 hands the plan out), ``comm`` (lazy mpi4py),
``failfast`` (a failing rank tells the others at once), ``outcome`` (what a rank reports),
``exits`` (the all-ranks exit rules of the CLI and of scripts), ``watchdog`` (the deadline's
backstop, which calls MPI).

May import: ``mpi_lab.local`` and every room below it. Nothing here imports ``mpi4py.MPI`` at
module level: a plain ``python -m mpi_lab`` never starts MPI, and worker processes started
inside a rank never join the MPI job by accident. Setting MPI up (parameter files, launchers,
pinning) is ``mpi_lab.cluster``'s.
"""
