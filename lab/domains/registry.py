"""The one list of domains: which kinds of data the lab runs, found by a config's data.name.

Adding a kind of data means a package under lab/domains/ with a `spec.py` that defines
`SPEC` (a `DomainSpec`), and one line here. Specs are imported by name, when first asked
for, so this module (and lab.config, which asks it which domain's experiment a file is)
stays free of torch and of every domain's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.domains.protocol import (
        CollapseSignals,
        Domain,
        DomainSpec,
        ReportSection,
        RunFact,
    )
    from lab.experiment import ExperimentConfig
    from lab.rundir.results import RunResults

# domain name -> the module that defines its SPEC.
_SPECS = {
    "images": "lab.domains.images.spec",
    "vectors": "lab.domains.vectors.spec",
    "text": "lab.domains.text.spec",
}


@cache
def specs() -> tuple[DomainSpec, ...]:
    return tuple(importlib.import_module(module).SPEC for module in _SPECS.values())


@cache
def default_data() -> str:
    """The data.name of a config that names none: the one a domain's data section defaults
    to (the offline digits, docs/vae.md)."""
    for spec in specs():
        data = next(f for f in fields(spec.experiment) if f.name == "data")
        if data.metadata.get("default_kind"):
            return data.metadata["default_kind"]
    raise LookupError("no domain has a default data section")


def default_spec() -> DomainSpec:
    """The domain of the default data (a config that names none)."""
    spec = spec_of_data(default_data())
    if spec is None:  # default_data() is some domain's data
        raise LookupError(default_data())
    return spec


def data_configs() -> dict[str, type]:
    """data.name -> the dataclass that validates that data section, over every domain."""
    return {name: cls for spec in specs() for name, cls in spec.data_configs().items()}


def model_configs() -> dict[str, type]:
    """model.kind -> the dataclass of that model's section, over every domain."""
    return {kind: cls for spec in specs() for kind, cls in spec.model_configs().items()}


def spec_of_data(name: str) -> DomainSpec | None:
    """The domain whose data sections include `name`, or None for an unknown name."""
    return next((spec for spec in specs() if name in spec.data_configs()), None)


def spec_of_model(kind: str) -> DomainSpec | None:
    return next((spec for spec in specs() if kind in spec.model_configs()), None)


def spec_of(config: ExperimentConfig) -> DomainSpec:
    spec = spec_of_data(config.data.name)
    if spec is None:  # ExperimentConfig only admits the names data_configs() lists
        raise ValueError(f"no domain runs data.name {config.data.name!r}")
    return spec


def open_domain(config: ExperimentConfig) -> Domain:
    """The domain of `config.data` (nothing is loaded until its `prepare`)."""
    return spec_of(config).open(config)


def headline_of(raw_config: Mapping[str, Any]) -> tuple[str, ...]:
    """The headline columns of a run from its stored config (none for an unknown kind)."""
    spec = spec_of_data(_data_name(raw_config))
    return spec.headline if spec else ()


def signals_of(raw_config: Mapping[str, Any]) -> CollapseSignals | None:
    """The columns of a run's collapse timeline from its stored config (None: no timeline)."""
    spec = spec_of_data(_data_name(raw_config))
    return spec.signals if spec else None


def pictures_of(results: RunResults) -> list[tuple[int, str]]:
    """(generation, path) of each finished generation's picture (an image run's grids);
    none for a kind of data without them, or unknown (a run of a later version)."""
    spec = spec_of_data(_data_name(results.config))
    return spec.pictures(results) if spec and spec.pictures else []


def facts_of(raw_config: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[RunFact]:
    """The run-level facts the run's domain recorded in its manifest (none for an unknown
    kind)."""
    spec = spec_of_data(_data_name(raw_config))
    return spec.facts(manifest) if spec and spec.facts else []


def report_sections(results: RunResults) -> list[ReportSection]:
    """The sections only the run's kind of data knows how to draw (none for an unknown
    kind, e.g. a run written by a later version of the lab)."""
    spec = spec_of_data(_data_name(results.config))
    return spec.report_sections(results) if spec else []


def _data_name(raw_config: Mapping[str, Any]) -> str:
    data = raw_config.get("data")
    name = data.get("name") if isinstance(data, Mapping) else None
    return name if isinstance(name, str) else default_data()
