"""Benchmarks: ``python -m rtlab.bench fanout``. Side by side in one run; read the ratios."""
