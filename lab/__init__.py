"""collapse-lab: train generative models on their own samples and measure the collapse.

`lab.evaluate(fake, real=None, config=...)` scores any set of samples as a run scores a
generation (lab/evaluation.py). It is looked up when first used, so `import lab` (and
loading a config) imports nothing heavy.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from lab.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
