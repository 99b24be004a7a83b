"""The judge that labels samples must be good enough for its labels to mean something."""

from __future__ import annotations

import pytest
import torch

from lab.config import load_config
from lab.device import plan_device
from lab.domains.images.judging import judge_cache_path, load_or_train_judge
from lab.domains.images.predictions import predict_labels
from lab.errors import JudgeError
from models.judges import AveragePoolTo


def test_judge_reaches_threshold_on_mnist5k_heldout(write_config) -> None:
    config = load_config(write_config())
    real = config.data.load()
    plan = plan_device("cpu", "32-true", deterministic=True)
    judge, accuracy = load_or_train_judge(config, real, plan)
    # Passes with 0.966 against 0.95 (margin 0.016, 16 of the 1,000 held-out digits; seed 7).
    # Thin, but where this judge sits: seeds 1 to 4 train it to 0.965, 0.968, 0.973, 0.974.
    assert accuracy >= config.judge.min_accuracy
    labels = predict_labels(judge, real.heldout.images, plan, batch_size=256)
    assert float((labels == real.heldout.labels).double().mean()) == pytest.approx(accuracy)
    assert judge_cache_path(config).is_file()


def test_judge_below_threshold_fails_with_a_sentence(write_config) -> None:
    config = load_config(write_config(), ["judge.min_accuracy=0.9999"])
    real = config.data.load()
    plan = plan_device("cpu", "32-true", deterministic=True)
    with pytest.raises(
        JudgeError, match=r"below judge.min_accuracy 0.9999; raise judge.max_epochs"
    ):
        load_or_train_judge(config, real, plan)


def test_threshold_does_not_change_the_cache_key(write_config) -> None:
    strict = load_config(write_config(), ["judge.min_accuracy=0.99"])
    lenient = load_config(write_config(), ["judge.min_accuracy=0.5"])
    longer = load_config(write_config(), ["judge.max_epochs=9"])
    assert judge_cache_path(strict) == judge_cache_path(lenient)
    assert judge_cache_path(strict) != judge_cache_path(longer)


@pytest.mark.parametrize("size", [(4, 4), (8, 8), (6, 10), (3, 5)])
def test_face_judge_pooling_matches_adaptive_average_pooling(size: tuple[int, int]) -> None:
    """The face judges pool with matrix products (deterministic backward on GPUs): the same
    numbers and gradients as nn.AdaptiveAvgPool2d, for divisible and other map sizes."""
    maps = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    ours, theirs = maps.clone().requires_grad_(), maps.clone().requires_grad_()
    pooled = AveragePoolTo(4)(ours)
    expected = torch.nn.AdaptiveAvgPool2d(4)(theirs)
    torch.testing.assert_close(pooled, expected)
    weights = torch.randn_like(expected)
    (pooled * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad)
