"""Benchmarks: speed and memory targets live here, with their results in bench/RESULTS.md."""
