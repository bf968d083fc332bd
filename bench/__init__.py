"""Benchmarks of the emulator against a bare baseline, run by hand (``python -m bench``).

Each benchmark is registered by name (:mod:`bench.registry`); ``python -m bench list`` shows
them. A module added to this package registers its own benchmarks with ``@benchmark``.
"""
