"""The feature spaces an image run measures in, by the names its config gives them.

`metrics.feature_spaces: [judge, dinov2, clip]` (or the single `metrics.feature_space`) names
them; the first keeps the plain metrics.csv column names and every other one's feature
metrics get its name as a suffix (`fid_dinov2`), so a run's columns say which space each
number lives in. The pretrained spaces' weights are checked before anything trains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, get_args

from lab.domains.images.settings import MetricsConfig, SpaceName
from lab.metrics.features import FeatureSpace

if TYPE_CHECKING:
    from lab.metrics.pretrained import PublishedWeights

SPACES: tuple[str, ...] = get_args(SpaceName)
# The spaces built from a weights file rather than from the run's judge.
PRETRAINED = tuple(name for name in SPACES if name != "judge")


def suffix(index: int, name: str) -> str:
    """The column suffix of the `index`-th space of a run: none for the first."""
    return "" if index == 0 else f"_{name}"


def check_pretrained(name: str, metrics: MetricsConfig) -> None:
    """What the pretrained space `name` needs from disk (its package, its weights file with
    the expected sha256); FeatureSpaceError in one sentence otherwise."""
    if name == "inception":
        from lab.metrics.inception import checked_weights, weights_path

        checked_weights(weights_path(metrics.inception_weights))
        return
    from lab.metrics import pretrained

    published, weights, sha256 = _published(name, metrics)
    pretrained.checked_weights(published, pretrained.weights_path(published, weights), sha256)


def pretrained_space(name: str, metrics: MetricsConfig) -> FeatureSpace:
    """The pretrained space `name`, loaded from its checked weights file."""
    if name == "inception":
        from lab.metrics.inception import inception_space

        return inception_space(metrics.inception_weights)
    if name == "dinov2":
        from lab.metrics.dinov2 import dinov2_space

        return dinov2_space(metrics.dinov2_weights, metrics.dinov2_sha256)
    from lab.metrics.clip import clip_space

    return clip_space(metrics.clip_weights, metrics.clip_sha256)


def build_spaces(
    names: Sequence[str], metrics: MetricsConfig, judge_space: Callable[[], FeatureSpace]
) -> list[FeatureSpace]:
    """The spaces `names` in order; `judge_space` makes the judge's when it is asked for."""
    return [judge_space() if name == "judge" else pretrained_space(name, metrics) for name in names]


def _published(
    name: str, metrics: MetricsConfig
) -> tuple[PublishedWeights, str | None, str | None]:
    if name == "dinov2":
        from lab.metrics.dinov2 import PUBLISHED

        return PUBLISHED, metrics.dinov2_weights, metrics.dinov2_sha256
    from lab.metrics.clip import PUBLISHED

    return PUBLISHED, metrics.clip_weights, metrics.clip_sha256
