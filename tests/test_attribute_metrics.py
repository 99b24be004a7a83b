"""Attribute prevalence and rare-attribute coverage against a direct NumPy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lab.data.celeba import ATTRIBUTES
from lab.metrics.attributes import attribute_metrics, attribute_prevalence

RARE = ("Eyeglasses", "Bald", "Mustache", "Gray_Hair", "Wearing_Hat")


def test_prevalence_is_the_mean_probability_per_attribute() -> None:
    probabilities = torch.rand(500, len(ATTRIBUTES), generator=torch.Generator().manual_seed(0))
    expected = probabilities.numpy().astype(np.float64).mean(axis=0)
    assert np.allclose(attribute_prevalence(probabilities).numpy(), expected, atol=1e-12)


def test_rare_attributes_kept_counts_those_at_or_above_the_fraction() -> None:
    rng = np.random.default_rng(1)
    real = rng.uniform(0.02, 0.6, size=len(ATTRIBUTES))
    sample = real.copy()
    index = {name: ATTRIBUTES.index(name) for name in RARE}
    sample[index["Bald"]] = 0.0  # vanished
    sample[index["Mustache"]] = 0.49 * real[index["Mustache"]]  # just below half
    sample[index["Gray_Hair"]] = 0.5 * real[index["Gray_Hair"]]  # exactly half: kept
    sample[index["Eyeglasses"]] = 3 * real[index["Eyeglasses"]]  # more than real: kept
    metrics = attribute_metrics(
        torch.from_numpy(sample), torch.from_numpy(real), ATTRIBUTES, RARE, kept_fraction=0.5
    )
    kept = sum(sample[index[n]] >= 0.5 * real[index[n]] for n in RARE)
    assert metrics["rare_attributes_kept"] == kept == 3
    assert metrics["attr_Bald"] == 0.0
    assert metrics["attr_Young"] == pytest.approx(sample[ATTRIBUTES.index("Young")])
    assert [k for k in metrics if k.startswith("attr_")] == [f"attr_{a}" for a in ATTRIBUTES]
    strict = attribute_metrics(
        torch.from_numpy(sample), torch.from_numpy(real), ATTRIBUTES, RARE, kept_fraction=1.0
    )
    assert strict["rare_attributes_kept"] == 2  # Eyeglasses, and Wearing_Hat at its real value
