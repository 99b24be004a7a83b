"""The vector experiments: a Gaussian and a Gaussian mixture refitted to their own samples.

They are the Nature paper's simplest systems, small enough to run thousands of generations in
seconds and exact enough to hold against theory (lab/vectors/theory.py). They run through the
same loop, config, run directory, metrics.csv and report as the image models; what differs is
behind lab/domains/vectors.py: the real distribution (real.py), the fits (models/gaussian.py,
models/mixture.py), the statistics per generation (statistics.py) and the figures (figures.py).
"""
