"""Metrics of a generation's samples against the real held-out set, one file per metric."""
