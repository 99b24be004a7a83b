"""Each built-in curator on a case whose answer is known by hand, the combination and the
contract checks (lab/curation/); no model trains here."""

from __future__ import annotations

import pytest
import torch

from lab.curation.class_balance import ClassBalance
from lab.curation.dedupe import Dedupe
from lab.curation.feature_density import FeatureDensity
from lab.curation.judge_confidence import JudgeConfidence
from lab.curation.run import Draws, Reference, curate, kept_metrics
from lab.curation.section import CurateConfig
from lab.errors import DataError, ModelContractError

KEEP = 3


def _draws(count: int, **values: torch.Tensor) -> Draws:
    items = torch.arange(count, dtype=torch.uint8).reshape(count, 1, 1, 1)
    features = values.pop("features", torch.zeros(count, 1))
    return Draws(items, features, **values)


def _select(curator, draws: Draws, **keywords):
    return curator.select(draws.items, draws.labels, draws.features, torch.Generator(), **keywords)


def test_judge_confidence_keeps_the_surest_draws_ties_in_draw_order() -> None:
    confidence = torch.tensor([0.5, 0.9, 0.7, 0.9, 0.1])
    chosen, scores = _select(JudgeConfidence(), _draws(5), keep=KEEP, confidence=confidence)
    assert chosen.tolist() == [1, 3, 2]
    assert scores.tolist() == pytest.approx([0.9, 0.9, 0.7])


def test_judge_confidence_with_a_threshold_keeps_the_first_draws_above_it() -> None:
    confidence = torch.tensor([0.5, 0.9, 0.7, 0.95, 0.8])
    chosen, _ = _select(
        JudgeConfidence(min_confidence=0.7), _draws(5), keep=2, confidence=confidence
    )
    assert chosen.tolist() == [1, 2]


def test_class_balance_matches_the_real_shares() -> None:
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    shares = torch.tensor([0.5, 0.25, 0.25])
    chosen, scores = _select(ClassBalance(), _draws(7, labels=labels), keep=4, real_shares=shares)
    assert chosen.tolist() == [0, 1, 4, 6]
    assert scores.tolist() == [0.5, 0.5, 0.25, 0.25]


def test_class_balance_gives_a_vanished_class_share_to_the_others() -> None:
    """Class 2 is never drawn: its slot goes to the classes with draws to spare."""
    labels = torch.tensor([0, 0, 0, 0, 1])
    shares = torch.tensor([0.5, 0.25, 0.25])
    chosen, _ = _select(ClassBalance(), _draws(5, labels=labels), keep=4, real_shares=shares)
    assert chosen.tolist() == [0, 1, 2, 4]


def test_dedupe_drops_near_copies_of_earlier_draws() -> None:
    """Real points 1 apart: a near-copy is closer than 1; draws 1 and 3 copy draws 0 and 2."""
    features = torch.tensor([[0.0], [0.1], [5.0], [5.05], [10.0]])
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    chosen, scores = _select(Dedupe(), _draws(5, features=features), keep=5, real_features=real)
    assert chosen.tolist() == [0, 2, 4]
    assert scores.tolist() == pytest.approx([0.1, 0.05, 4.95], rel=1e-5)


def test_feature_density_keeps_the_draws_nearest_the_real_set() -> None:
    features = torch.tensor([[10.0], [0.5], [3.0], [1.2]])
    real = torch.tensor([[0.0], [1.0], [2.0]])
    chosen, scores = _select(
        FeatureDensity(k=1), _draws(4, features=features), keep=2, real_features=real
    )
    assert chosen.tolist() == [3, 1]
    assert scores.tolist() == pytest.approx([0.2, 0.5], rel=1e-5)


def test_dedupe_runs_first_then_the_curator_and_kept_is_in_draw_order() -> None:
    features = torch.tensor([[0.0], [0.1], [5.0], [2.0], [1.0]])
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    section = CurateConfig(kind="feature_density", init_args={"k": 1}, dedupe=True)
    curators = [("dedupe", Dedupe()), ("feature_density", FeatureDensity(k=1))]
    kept = curate(
        section, curators, _draws(5, features=features), Reference(real), KEEP,
        torch.Generator(), 4,
    )  # fmt: skip
    # Draw 1 copies draw 0; of the rest, draw 2 (distance 2 to the real set) goes.
    assert kept.indices.tolist() == [0, 3, 4]
    assert kept.curator == "dedupe+feature_density"
    assert kept.provenance_csv().decode().splitlines() == [
        "kept,draw,curator,score",
        "0,0,dedupe+feature_density,0",
        "1,3,dedupe+feature_density,0",
        "2,4,dedupe+feature_density,0",
    ]


def test_fewer_than_asked_is_one_sentence_naming_the_generation() -> None:
    confidence = torch.tensor([0.5, 0.99, 0.6, 0.4])
    section = CurateConfig(kind="judge_confidence", init_args={"min_confidence": 0.9})
    curators = [("judge_confidence", JudgeConfidence(min_confidence=0.9))]
    draws = _draws(4, confidence=confidence)
    with pytest.raises(
        DataError, match=r"^generation 5's curator judge_confidence kept 1 of its 4 draws"
    ):
        curate(section, curators, draws, Reference(torch.zeros(2, 1)), 2, torch.Generator(), 5)
    allowed = CurateConfig(kind="judge_confidence", allow_fewer=True)
    kept = curate(allowed, curators, draws, Reference(torch.zeros(2, 1)), 2, torch.Generator(), 5)
    assert kept.indices.tolist() == [1]


def test_kept_metrics_compare_the_kept_classes_with_the_draws() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    draws = _draws(4, labels=labels)
    kept = curate(
        CurateConfig(kind="class_balance"), [("class_balance", ClassBalance())], draws,
        Reference(torch.zeros(2, 1), torch.tensor([0.5, 0.5])), 2, torch.Generator(), 0,
    )  # fmt: skip
    assert kept_metrics(draws, kept, Reference(torch.zeros(2, 1), torch.tensor([0.5, 0.5]))) == {
        "curated_fraction": 0.5,
        "class_entropy_kept": 1.0,
    }


class _Repeats:
    def select(self, items, labels, features, generator):
        return torch.tensor([0, 0])


def test_a_curator_breaking_the_contract_is_one_sentence() -> None:
    section = CurateConfig(class_path="mine.Repeats")
    with pytest.raises(
        ModelContractError,
        match="curator mine.Repeats.select returned a draw more than once in generation 2",
    ):
        curate(
            section,
            [("mine.Repeats", _Repeats())],
            _draws(3),
            Reference(torch.zeros(2, 1)),
            2,
            torch.Generator(),
            2,
        )
