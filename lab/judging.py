"""Train the judge once per (dataset, judge settings, seed), cache it, and use it to label.

Every run on the same data shares one judge, so metrics of different runs and regimes are
measured with the same ruler, and the judge's training costs nothing after the first run.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict
from pathlib import Path

import torch

from lab.config import ExperimentConfig
from lab.data import RealData
from lab.device import DevicePlan
from lab.errors import JudgeError
from lab.runs import write_atomic
from lab.seeding import derive_seed, seed_everything
from lab.training import fit
from models.judges import ClassJudge


def judge_cache_path(config: ExperimentConfig) -> Path:
    """Where the judge for this config's data, judge settings and seed is cached."""
    settings = asdict(config.judge)
    settings.pop("min_accuracy")  # a threshold on the judge, not part of training it
    key = json.dumps(
        {"data": asdict(config.data), "judge": settings, "seed": config.seed}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(config.cache_dir) / "judges" / f"{config.data.name}-{digest}.pt"


def load_or_train_judge(
    config: ExperimentConfig, real: RealData, plan: DevicePlan
) -> tuple[ClassJudge, float]:
    """The judge and its accuracy on the held-out set; fails if below judge.min_accuracy."""
    settings = config.judge
    seed = derive_seed(config.seed, "judge")
    seed_everything(seed)
    judge = ClassJudge(real.train.image_shape, real.num_classes, settings.feature_dim, settings.lr)
    path = judge_cache_path(config)
    if path.is_file():
        judge.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        judge.to(plan.device).eval()
    else:
        fit(
            judge,
            [real.train.images, real.train.labels],
            plan=plan,
            batch_size=settings.batch_size,
            seed=seed,
            max_epochs=settings.max_epochs,
            label="judge",
        )
        buffer = io.BytesIO()
        torch.save(judge.state_dict(), buffer)
        write_atomic(path, buffer.getvalue())
    predicted = predict_labels(judge, real.heldout.images, plan, config.metrics.batch_size)
    accuracy = float((predicted == real.heldout.labels).double().mean())
    if accuracy < settings.min_accuracy:
        raise JudgeError(
            f"the judge is {accuracy:.3f} accurate on the {real.name} held-out set, below "
            f"judge.min_accuracy {settings.min_accuracy}; raise judge.max_epochs or lower the "
            f"threshold (cached judge: '{path}')."
        )
    return judge, accuracy


def predict_labels(
    judge: ClassJudge, images: torch.Tensor, plan: DevicePlan, batch_size: int
) -> torch.Tensor:
    """The judge's class for each uint8 image, as int64 on the CPU."""
    judge.eval()
    with plan.inference():
        parts = [
            judge.predict_labels(plan.place(chunk)).cpu() for chunk in images.split(batch_size)
        ]
    return torch.cat(parts)
