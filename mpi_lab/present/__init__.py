"""What a person reads: the text report (``text``), files written atomically (``files``), the
fractal's image and the speed-up plots (``images``).

May import: ``mpi_lab.local``, ``mpi_lab.core``.
"""
