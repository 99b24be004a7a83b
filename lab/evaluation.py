"""`lab.evaluate`: score any set of samples as a run scores a generation, from Python.

In the spirit of clean-fid's `compute_fid(dir1, dir2)`: give the generated set (a folder of
images or a .npz with uint8 `images` [N, C, H, W]) and either a real set or an experiment
whose held-out set is the reference; get back the numbers a run's metrics.csv would hold,
computed by the same code. `collapse-lab eval` is this function's command line. The
experiment's domain does the scoring (today the image domain; the others have no `eval`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.config import load_config
from lab.domains import registry
from lab.errors import ConfigError
from lab.experiment import ExperimentConfig


def evaluate(
    fake: Path | str,
    real: Path | str | None = None,
    *,
    config: ExperimentConfig | Path | str | None = None,
    feature_space: str | None = None,
    kid: bool = False,
    train: Path | str | None = None,
    inception_weights: str | None = None,
    cache_dir: Path | str | None = None,
    dinov2_weights: str | None = None,
    clip_weights: str | None = None,
) -> dict[str, Any]:
    """Every metric of `fake` against `real`, or against the held-out set of `config`'s
    dataset when `real` is None (eval of a run's own samples with its config.yaml gives its
    metrics.csv row).

    `config`: an experiment (a loaded config, or the path of an experiment file or a run's
    config.yaml) whose judge embeds and labels the images and whose metrics section sets k,
    KID and batch sizes. `feature_space`: "judge" (needs `config`), "inception", "dinov2" or
    "clip", or several joined by commas ("judge,dinov2": the first gives the plain columns, the
    others suffixed ones; default: the config's). `dinov2_weights` and `clip_weights` name
    those spaces' weights files (default: the config's). `kid` adds kid and kid_std; `train`
    (the images `fake`'s generator trained on) adds copy_fraction. Returns {"real", "fake",
    "real_images", "fake_images", "feature_space" (the first), "feature_spaces", "metrics":
    {column: value}, "notes": [...]}, as `eval --json` prints it. Errors a user can fix are
    LabError sentences."""
    path = Path(config) if isinstance(config, (str, Path)) else None
    experiment = load_config(path, import_model=False) if path else config
    spec = registry.spec_of(experiment) if experiment else registry.default_spec()
    if spec.evaluate is None:
        raise ConfigError(
            f"{path or 'the config'}: data.name {experiment.data.name!r} is {spec.name}, which "
            "eval does not score; pass an image experiment (e.g. experiments/demo.yaml)."
        )
    return spec.evaluate(
        fake,
        real,
        config=experiment,
        config_path=path,
        feature_space=feature_space,
        kid=kid,
        train=train,
        inception_weights=inception_weights,
        cache_dir=cache_dir,
        weights={"dinov2_weights": dinov2_weights, "clip_weights": clip_weights},
    )
