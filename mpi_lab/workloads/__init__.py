"""The two workloads of the seed: Monte Carlo π and the Mandelbrot fractal.

Kernel modules stay free of module-level NumPy imports so that the pure-Python kernels can be
imported inside subinterpreters, where NumPy cannot be loaded.
"""
