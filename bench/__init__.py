"""Benchmarks: `python -m bench [--quick] [--only NAME]` measures and writes docs/BENCHMARKS.md."""
