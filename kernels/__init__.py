"""Numba kernels: numerics on numpy arrays, no SimPy, no model imports.

Each kernel module holds a compiled function and a plain-Python reference twin of it.
"""
