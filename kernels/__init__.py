"""Numba kernels: numerics on numpy arrays, no SimPy, no model imports.

Each kernel module holds a compiled function and a plain-Python reference twin of it. The
kernels are decorated with :func:`twin.kernels._jit.njit`: importing them loads no numba;
the first call of one does, and loads (or compiles and caches) the compiled code.
"""
