"""Train the judge once per (dataset, judge settings, seed) and cache it.

Every run on the same data shares one judge, so metrics of different runs and regimes are
measured with the same ruler, and the judge's training costs nothing after the first run.
The judge's kind follows from the data's labels (lab/domains/images/labels.py), never from
the generative model.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from lab.data.images import RealData
from lab.device import DevicePlan
from lab.domains.images.labels import label_kind
from lab.domains.images.predictions import predict_labels
from lab.domains.images.settings import JudgeConfig
from lab.errors import JudgeError
from lab.experiment import ExperimentConfig
from lab.rundir.atomic import write_atomic
from lab.schema import to_plain
from lab.training.fit import fit
from lab.training.seeding import derive_seed, seed_everything
from models.judges import Judge


def judge_cache_path(config: ExperimentConfig) -> Path:
    """Where the judge for this config's data, judge settings and seed is cached."""
    settings = asdict(config.judge)
    settings.pop("min_accuracy")  # a threshold on the judge, not part of training it
    # to_plain, not asdict: a data key left at a default that predates it (pad_to) does not
    # change the key, so judges cached before it existed are still found.
    key = json.dumps(
        {"data": to_plain(config.data), "judge": settings, "seed": config.seed}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(config.cache_dir) / "judges" / f"{config.data.name}-{digest}.pt"


def build_judge(real: RealData, settings: JudgeConfig) -> Judge:
    """An untrained judge of the kind the data's labels call for."""
    return label_kind(real).build_judge(real.train.image_shape, real.num_classes, settings)


def load_or_train_judge(
    config: ExperimentConfig,
    real: RealData,
    plan: DevicePlan,
    announce: Callable[[str], None] | None = None,
) -> tuple[Judge, float]:
    """The judge and its held-out accuracy (for attributes: the mean over all attributes);
    fails if below judge.min_accuracy. `announce` hears, before a judge is trained, that it
    is (the first call for a dataset takes a while; a progress bar follows on a terminal)."""
    settings = config.judge
    seed = derive_seed(config.seed, "judge")
    seed_everything(seed)
    judge = build_judge(real, settings)
    path = judge_cache_path(config)
    if path.is_file():
        judge.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        plan.prepare(judge.to(plan.device).eval())  # the layout a freshly trained judge has
    else:
        if announce is not None:
            announce(
                f"training the {real.name} judge (judge.max_epochs: {settings.max_epochs}), "
                f"once: it is cached at '{path}' for every later run and eval"
            )
        fit(
            judge,
            judge.training_tensors(real.train),
            plan=plan,
            batch_size=settings.batch_size,
            seed=seed,
            max_epochs=settings.max_epochs,
            label="judge",
        )
        buffer = io.BytesIO()
        torch.save(judge.state_dict(), buffer)
        write_atomic(path, buffer.getvalue())
    images, expected = judge.evaluation(real.heldout)
    predicted = predict_labels(judge, images, plan, config.metrics.batch_size)
    accuracy = float((predicted == expected).double().mean())
    if accuracy < settings.min_accuracy:
        raise JudgeError(
            f"the judge is {accuracy:.3f} accurate on the {real.name} held-out set, below "
            f"judge.min_accuracy {settings.min_accuracy}; raise judge.max_epochs or lower the "
            f"threshold (cached judge: '{path}')."
        )
    return judge, accuracy
