"""The curator contract (docs/curation.md), checked before a run folder is bound.

A curator is any object built as `Class(**init_args)` with a method

    select(items, labels, features, generator) -> indices

`items` are all of a generation's draws in draw order (uint8 images [M, C, H, W], token
sequences [M, L] or float64 points [M, dim]), `labels` the judge's class of each (int64 [M],
None where the domain has none), `features` their feature vectors ([M, D], in the domain's
feature space: docs/curation.md has each domain's judge and features) and `generator`
a torch.Generator seeded from (seed, generation), the only randomness a curator may use so
that resume stays byte-identical. It returns the indices of the draws to keep (at most
`keep`, no index twice), or (indices, scores) to record a score per kept draw in the
provenance. The lab also passes, to a `select` that declares them as keywords:
`keep` (how many to keep), `confidence` (the judge's confidence in each draw),
`real_features` (the real training set's features) and `real_shares` (each class's share
of the real data, as the judge labels the held-out set). Each broken promise is one
sentence naming the key.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.curation.section import CurateConfig, CuratorArgumentError
from lab.errors import ModelContractError

SELECT = "select"
CLASS_PATH = "curate.class_path"
# The keywords the lab passes to a `select` that declares them (docs/curation.md).
OFFERED = ("keep", "confidence", "real_features", "real_shares")


def built_in_path(kind: str) -> str:
    """The class of a built-in curator: lab/curation/<kind>.py, its class named in CamelCase."""
    return f"lab.curation.{kind}.{''.join(part.title() for part in kind.split('_'))}"


def curator_classes(section: CurateConfig, search: Sequence[Path] = ()) -> list[type]:
    """The section's curator classes in the order they run (dedupe first), imported and
    checked against the contract; ModelContractError names the key at fault."""
    from lab.generators.contract import check_arguments, import_class
    from lab.generators.recipe import Recipe

    classes = []
    for kind in section.kinds:
        classes.append(import_class(built_in_path(kind)))
    if section.class_path is not None:
        classes.append(import_class(section.class_path, search, key=CLASS_PATH))
    main = classes[-1]
    path = section.class_path or built_in_path(str(section.kind))
    recipe = Recipe(path, dict(section.init_args), "curate.init_args", section.kind is None)
    for cls in classes:
        select = getattr(cls, SELECT, None)
        if not inspect.isclass(cls) or not callable(select):
            raise ModelContractError(
                f"key '{CLASS_PATH}' is {section.class_path!r}, which has no select method; a "
                "curator keeps draws with select(items, labels, features, generator) -> "
                "indices (docs/curation.md)",
                CLASS_PATH,
            )
        check_arguments(cls, recipe if cls is main else Recipe(path, {}, "", False), {})
    if section.kind is not None:  # the lab's own curators check their values when built
        try:
            main(**section.init_args)
        except CuratorArgumentError as err:
            key = f"curate.init_args.{err.name}"
            raise ModelContractError(f"key '{key}' {err.problem}", key) from None
    return classes


def build_curators(section: CurateConfig) -> list[tuple[str, Any]]:
    """(name, curator) in the order they run: dedupe first when asked, then the section's."""
    classes = curator_classes(section)
    names = [*section.kinds] if section.kind is not None else [*section.kinds, section.name]
    built = [cls() for cls in classes[:-1]]
    built.append(classes[-1](**section.init_args))
    return list(zip(names, built, strict=True))
