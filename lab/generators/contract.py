"""The contract every model keeps (docs/models.md), checked before a run folder is bound.

A model is a `lightning.LightningModule` built as `Class(**init_args)` plus the inputs the
lab passes where the constructor declares them (the data's shape, train.lr), trained with
its own `training_step` and `configure_optimizers`, and drawing a generation's data with
`sample`. Sampling knobs (batch size, temperature, truncation) go only to a `sample` that
declares them; a bias the config asks for that `sample` does not declare is refused, since
the run would silently not be biased. Each broken promise is one ModelContractError
sentence naming the class and the key.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import ModelContractError
from lab.experiment import FROM_PRETRAINED, PRETRAINED
from lab.generators.recipe import Recipe, recipe_of
from lab.generators.section import CLASS_PATH_KEY
from lab.schema import SchemaError

if TYPE_CHECKING:
    from lab.experiment import ExperimentConfig

CLASS_PATH = f"model.{CLASS_PATH_KEY}"
SAMPLE = "sample"


def check_model(config: ExperimentConfig, search: Sequence[Path] = ()) -> type:
    """The config's model class, imported (from PYTHONPATH, else from a folder of `search`)
    and checked against the contract; ModelContractError names what is wrong."""
    recipe = recipe_of(config.model)
    cls = import_class(recipe.class_path, search)
    _check_is_module(cls, recipe)
    check_arguments(cls, recipe, config.model_inputs())
    _check_sample(cls, recipe, config.sampling_biases())
    _check_pretrained(cls, recipe, config)
    try:
        config.check_model_class(cls)
    except SchemaError as err:
        raise ModelContractError(str(err), err.key) from None
    return cls


def import_class(class_path: str, search: Sequence[Path] = (), key: str = CLASS_PATH) -> type:
    """The class `class_path` names. A module found in neither PYTHONPATH nor the current
    folder is looked for in each folder of `search` (the experiment file's own), which then
    stays on sys.path so the class can be imported again later in the run. `key` is the
    config key that named it, for the messages."""
    module_name, _, name = class_path.rpartition(".")
    module = _import_module(class_path, module_name, search, key)
    found = getattr(module, name, None)
    if found is None:
        raise ModelContractError(
            f"key '{key}' is {class_path!r}, but module {module_name!r} "
            f"({module.__file__}) has no {name!r}; check the name",
            key,
        )
    return found


def source_folder(class_path: str) -> str | None:
    """The folder on sys.path that `class_path`'s top-level package or module was imported
    from, recorded with a checkpoint so the model can be rebuilt in another process."""
    top = sys.modules.get(class_path.partition(".")[0])
    location = getattr(top, "__file__", None)
    if location is None:
        return None
    path = Path(location).resolve()
    return str(path.parent.parent if path.name == "__init__.py" else path.parent)


def _import_module(class_path: str, module_name: str, search: Sequence[Path], key: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if not _is_part_of(err.name, module_name):
            raise _import_failed(class_path, module_name, err, key) from None
    except Exception as err:  # the user's module raised while importing
        raise _import_failed(class_path, module_name, err, key) from None
    top = module_name.partition(".")[0]
    for folder in search:
        if (folder / f"{top}.py").is_file() or (folder / top).is_dir():
            sys.path.insert(0, str(folder.resolve()))
            importlib.invalidate_caches()
            try:
                return importlib.import_module(module_name)
            except Exception as err:
                raise _import_failed(class_path, module_name, err, key) from None
    places = " or ".join(f"'{folder}'" for folder in search)
    where = f"on PYTHONPATH or in {places}" if places else "on PYTHONPATH"
    raise ModelContractError(
        f"key '{key}' is {class_path!r}, but there is no module {module_name!r} {where}; "
        f"put {top}.py next to the experiment file or add its folder to PYTHONPATH",
        key,
    )


def _is_part_of(missing: str | None, module_name: str) -> bool:
    """Whether the module that was not found is `module_name` or a package above it (and not
    something the user's module imports)."""
    return missing is not None and (module_name + ".").startswith(missing + ".")


def _import_failed(
    class_path: str, module_name: str, err: Exception, key: str
) -> ModelContractError:
    return ModelContractError(
        f"key '{key}' is {class_path!r}, but importing {module_name!r} failed "
        f"({type(err).__name__}: {err}); fix the module (--debug shows where)",
        key,
    )


def _check_is_module(cls: Any, recipe: Recipe) -> None:
    import lightning as L

    if not (inspect.isclass(cls) and issubclass(cls, L.LightningModule)):
        what = f"a {type(cls).__name__}" if not inspect.isclass(cls) else "a class"
        raise ModelContractError(
            f"key '{CLASS_PATH}' is {recipe.class_path!r}, {what} that is not a "
            "lightning.LightningModule; the lab trains every model with Trainer.fit, so "
            "derive it from LightningModule (docs/models.md)",
            CLASS_PATH,
        )


def check_arguments(cls: type, recipe: Recipe, inputs: Mapping[str, str]) -> None:
    """`recipe.init_args` against the constructor's signature: every argument known, every
    required one given, none that the lab passes itself (`inputs`: name -> what it holds)."""
    parameters = _parameters(cls.__init__)
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    named = [name for name, p in parameters.items() if p.kind in _BY_KEYWORD]
    for name in recipe.init_args:
        key = recipe.argument_key(name)
        if name in inputs:
            raise ModelContractError(
                f"key '{key}' is passed by the lab ({inputs[name]}) to {recipe.class_path}; "
                "remove it",
                key,
            )
        if name not in named and not open_ended:
            raise ModelContractError(
                f"key '{key}' is not an argument of {recipe.class_path}; its arguments are "
                f"{', '.join(named) or 'none'}",
                key,
            )
    for name, parameter in parameters.items():
        if parameter.default is not parameter.empty or name in recipe.init_args:
            continue
        if parameter.kind in _BY_KEYWORD and name in inputs:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        key = recipe.argument_key(name)
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise ModelContractError(
                f"{recipe.class_path} takes {name!r} by position only, but the lab builds "
                "models from keywords; make it a keyword argument",
                key,
            )
        raise ModelContractError(
            f"key '{key}' is required by {recipe.class_path} (its constructor gives it no "
            "default); add it",
            key,
        )


def _check_sample(cls: type, recipe: Recipe, biases: Mapping[str, Any]) -> None:
    sample = getattr(cls, SAMPLE, None)
    if not callable(sample):
        raise ModelContractError(
            f"{recipe.class_path} has no sample method; the lab draws every generation's "
            "data with sample(n, generator) (docs/models.md)",
            CLASS_PATH,
        )
    declared = declared_keywords(sample)
    for name, value in biases.items():
        if name not in declared:
            raise ModelContractError(
                f"key 'sampling.{name}' is {value!r}, but {recipe.class_path}.sample declares "
                f"no {name!r} keyword, so it would not be applied; remove it, or add "
                "the keyword to sample",
                f"sampling.{name}",
            )


def _check_pretrained(cls: type, recipe: Recipe, config: ExperimentConfig) -> None:
    train = config.train
    if train is None or train.init_from != PRETRAINED:
        return
    if FROM_PRETRAINED not in declared_keywords(cls.__init__):
        raise ModelContractError(
            f"key 'train.init_from' is 'pretrained', but {recipe.class_path} has no "
            f"pretrained weights (its constructor takes no {FROM_PRETRAINED!r} keyword); use "
            "scratch or previous, or declare the keyword and load them when it is True",
            "train.init_from",
        )


def declared_keywords(function: Callable[..., Any]) -> set[str]:
    """The keyword arguments `function` names in its signature (not those **kwargs takes)."""
    return {name for name, p in _parameters(function).items() if p.kind in _BY_KEYWORD}


def _parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    parameters = dict(inspect.signature(function).parameters)
    parameters.pop("self", None)
    return parameters


_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
