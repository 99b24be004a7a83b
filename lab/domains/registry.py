"""The one list of domains: which kinds of data the lab runs, found by a config's data.name.

Adding a kind of data means a package under lab/domains/ with a `spec.py` that defines
`SPEC` (a `DomainSpec`), and one line here. Specs are imported by name, when first asked
for, so this module (and lab.config, which asks it for the data and model sections) stays
free of torch and of every domain's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.config import ExperimentConfig
    from lab.domains.protocol import CollapseSignals, Domain, DomainSpec, ReportSection
    from lab.rundir.results import RunResults

# domain name -> the module that defines its SPEC.
_SPECS = {
    "images": "lab.domains.images.spec",
    "vectors": "lab.domains.vectors.spec",
    "text": "lab.domains.text.spec",
}
# The data section a config gets when it names none: the offline digits (README).
DEFAULT_DATA = "mnist5k"


@cache
def specs() -> tuple[DomainSpec, ...]:
    return tuple(importlib.import_module(module).SPEC for module in _SPECS.values())


def data_configs() -> dict[str, type]:
    """data.name -> the dataclass that validates that data section, over every domain."""
    return {name: cls for spec in specs() for name, cls in spec.data_configs.items()}


class _ModelConfigs(Mapping[str, type]):
    """model.kind -> config dataclass over every domain, each domain's looked up when used
    (a Gaussian's config need not load Lightning)."""

    def __getitem__(self, kind: str) -> type:
        for spec in specs():
            configs = spec.model_configs()
            if kind in configs:
                return configs[kind]
        raise KeyError(kind)

    def __iter__(self) -> Iterator[str]:
        return (kind for spec in specs() for kind in spec.model_configs())

    def __len__(self) -> int:
        return sum(len(spec.model_configs()) for spec in specs())


def model_configs() -> Mapping[str, type]:
    return _ModelConfigs()


def spec_of_data(name: str) -> DomainSpec | None:
    """The domain whose data sections include `name`, or None for an unknown name."""
    return next((spec for spec in specs() if name in spec.data_configs), None)


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


def report_sections(results: RunResults) -> list[ReportSection]:
    """The sections only the run's kind of data knows how to draw (none for an unknown
    kind, e.g. a run written by a later version of the lab)."""
    spec = spec_of_data(_data_name(results.config))
    return spec.report_sections(results) if spec else []


def _data_name(raw_config: Mapping[str, Any]) -> str:
    data = raw_config.get("data")
    name = data.get("name") if isinstance(data, Mapping) else None
    return name if isinstance(name, str) else DEFAULT_DATA
