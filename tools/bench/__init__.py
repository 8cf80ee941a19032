"""Benchmarks (issue 6): run by `hiring-jobs bench`, not by pytest (files are bench_*.py)."""
