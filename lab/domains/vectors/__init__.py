"""The vector experiments: a Gaussian and a Gaussian mixture refitted to their own samples.

They are the Nature paper's simplest systems, small enough to run thousands of generations in
seconds and exact enough to hold against theory (theory.py). They run through the same loop,
config, run directory, metrics.csv and report as the image models; all that differs is here:
their config sections (settings.py), the fits (gaussian.py, mixture.py), the systems that
step them (systems.py), the domain that runs blocks of generations (domain.py), the
statistics per generation (statistics.py) and the report's figures (figures.py).
"""
