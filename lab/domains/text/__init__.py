"""Text: a language model trained on its own writing, the Nature paper's headline experiment.

Real prose (settings.py names the corpora; corpora.py reads them) is cut into byte sequences
(sequences.py); a small causal transformer (models/gpt.py) trains on them, continues prompts
taken from the real training text, and the next generation trains on those continuations.
Every generation is measured by perplexity (perplexity.py) and by what its words still cover
(words.py, measure.py); report.py shows the same prompts continued by every generation.
spec.py describes the domain to the engine.
"""
