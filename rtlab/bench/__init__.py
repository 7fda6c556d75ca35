"""Benchmarks: ``python -m rtlab.bench fanout``. Side by side in one run; read the ratios."""

__all__ = ["capacity", "common", "echo", "fanout", "scaleout", "sse"]  # the benchmarks, and their tables
