"""Images: real image datasets (lab/data/), trained image models (models/), the judge that
labels samples and embeds them for the metrics, grids and uint8 samples of every generation.
spec.py describes the domain to the engine."""
