"""The built-in workloads, the seed's two: Monte Carlo π and the Mandelbrot fractal, on the
contract every workload follows (``contract``).

Kernel modules stay free of module-level NumPy imports so that the pure-Python kernels can be
imported inside subinterpreters, where NumPy cannot be loaded.

May import: ``mpi_lab.core``.
"""

BUILTIN = {"pi": "mpi_lab.workloads.pi", "fractal": "mpi_lab.workloads.fractal"}
