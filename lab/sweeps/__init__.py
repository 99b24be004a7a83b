"""Sweeps: grids of ordinary runs (base experiment x axes), one run directory per cell, and
the executors that run cells side by side (local processes pinned to cards, Ray tasks)."""
