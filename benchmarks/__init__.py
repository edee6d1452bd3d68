"""Benchmarks of tutorial_lib: run them all with ``python benchmarks/run_all.py [--quick]``."""
