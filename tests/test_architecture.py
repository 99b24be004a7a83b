"""The package layout keeps its promises (docs/architecture.md): no import cycle (importlib's
string imports followed), every experiment file loads without torch, and an engine that
imports no domain and names no dataset, model kind or domain setting."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

from lab.domains import registry
from lab.experiment import ExperimentConfig

ROOT = Path(__file__).parent.parent
# Where a dataset or a model kind may be named: the domains and the image datasets.
KIND_HOMES = ("lab/domains/", "lab/data/")
# The engine's face of the domains: what any engine module may import of lab/domains/.
DOMAIN_FACE = ("lab.domains", "lab.domains.protocol", "lab.domains.registry")
# A string that names a module of the tree, as importlib.import_module is given it.
_DOTTED = re.compile(r"(lab|models)(\.[A-Za-z_]\w*)+")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    files = [*ROOT.glob("lab/**/*.py"), *ROOT.glob("models/**/*.py")]
    return {_module_name(path): path for path in files}


def _imported(tree: ast.AST) -> set[str]:
    """Every module an import statement names, at any depth, except under TYPE_CHECKING."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)

        def visit_Constant(self, node: ast.Constant) -> None:
            # "lab.domains.images.spec", "models.vae.VAE": what importlib is handed.
            if isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
                found.add(node.value)

    Visitor().visit(tree)
    return found


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target in _imported(ast.parse(path.read_text())):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            parts = target.split(".") if target else []
            # Importing a.b.c runs the packages a.b and a.b.c first. A top-level package (lab,
            # models) is left out: its __init__ imports nothing when it runs (checked below),
            # so lab.evaluate, looked up lazily there, makes no cycle.
            edges.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        graph[name] = {edge for edge in edges if edge in modules and edge != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_top_level_packages_import_nothing_when_they_load() -> None:
    code = (
        "import sys, lab, models\n"
        "print(sorted(m for m in sys.modules if m.startswith(('lab.', 'models.', 'torch'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_the_graph_follows_the_modules_importlib_is_handed() -> None:
    """The registry imports each domain's spec by a string: that is an edge of the graph."""
    graph = _import_graph()
    assert "lab.domains.images.spec" in graph["lab.domains.registry"]
    assert "models.vae" in graph["models.registry"]


def _experiment_files() -> list[Path]:
    """Every experiment file in experiments/ (not the nightly suite, not sweep files)."""
    return sorted(
        path
        for path in ROOT.glob("experiments/*.yaml")
        if "entries" not in path.read_text(encoding="utf-8")
    )


def test_loading_every_experiment_file_loads_no_torch() -> None:
    """A config is validated in the first second: no experiment file, whatever its model or
    data, pulls in torch or Lightning (a class_path model is the user's module, and exempt)."""
    files = [str(path) for path in _experiment_files()]
    code = (
        "import json, sys\n"
        "from lab.config import load_config\n"
        "loaded = {}\n"
        "for path in sys.argv[1:]:\n"
        "    load_config(path)\n"
        "    loaded[path] = sorted(m for m in ('torch', 'lightning') if m in sys.modules)\n"
        "print(json.dumps(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *files], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = json.loads(result.stdout)
    assert len(loaded) == len(files) > 20
    assert {path: modules for path, modules in loaded.items() if modules} == {}


def _engine_files() -> list[tuple[str, ast.Module]]:
    """(path, tree) of every module outside lab/domains/ and lab/data/."""
    found = []
    for path in sorted(ROOT.glob("lab/**/*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith(KIND_HOMES):
            found.append((relative, ast.parse(path.read_text())))
    return found


def test_the_engine_imports_no_domain() -> None:
    """The engine reaches a domain only through the registry and the protocol."""
    offenders = []
    for relative, tree in _engine_files():
        for name in _imported(tree):
            if name.startswith("lab.domains") and not name.startswith(DOMAIN_FACE):
                offenders.append(f"{relative} imports {name}")
    assert offenders == []


def _kind_names() -> set[str]:
    return set(registry.data_configs()) | set(registry.model_configs())


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [tree, *ast.walk(tree)]
    found = set()
    for node in nodes:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_the_engine_names_no_dataset_and_no_model_kind() -> None:
    """Outside lab/domains/ and lab/data/, no string or identifier in the code is a data.name
    or a model.kind: what depends on them is a domain's to answer."""
    kinds = _kind_names()
    offenders = []
    for path in sorted(ROOT.glob("lab/**/*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(KIND_HOMES):
            continue
        tree = ast.parse(path.read_text())
        skipped = _docstrings(tree)
        for node in ast.walk(tree):
            words: list[str] = []
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in skipped:
                    words = re.findall(r"[A-Za-z0-9]+", node.value)
            elif isinstance(node, ast.Name):
                words = node.id.split("_")
            elif isinstance(node, ast.Attribute):
                words = node.attr.split("_")
            named = kinds & {word.lower() for word in words}
            if named:
                offenders.append(f"{relative}:{node.lineno} names {sorted(named)}")
    assert offenders == []


def test_the_name_check_sees_a_dataset_name() -> None:
    assert {"mnist5k", "celeba", "gaussian", "vae", "dcgan"} <= _kind_names()
    assert {"pydoc", "wikitext2", "textfiles", "gpt"} <= _kind_names()  # the text domain's


def _keys(cls: typing.Any) -> set[str]:
    """Every key of a config dataclass and of the sections under it."""
    classes = [cls] if dataclasses.is_dataclass(cls) else typing.get_args(cls)
    found: set[str] = set()
    for each in classes:
        if isinstance(each, type) and dataclasses.is_dataclass(each):
            hints = typing.get_type_hints(each)
            for field in dataclasses.fields(each):
                found |= {field.name} | _keys(hints[field.name])
    return found


def _domain_settings() -> set[str]:
    """Keys only domains have (their sections, data and models), not the engine's: those of
    more than one word, which no ordinary identifier is, and the judge and truncation."""
    domains: set[str] = set()
    for spec in registry.specs():
        domains |= _keys(spec.experiment)
        for section in [*spec.data_configs().values(), *spec.model_configs().values()]:
            domains |= _keys(section)
    own = domains - _keys(ExperimentConfig)
    return {key for key in own if "_" in key} | {"judge", "truncation"}


# The engine's modules that may name a domain setting, and why: the metrics take parameters
# of the same names (a tail fraction, a k); lab.evaluate and eval's command line are the
# image domain's scoring behind the lab's public face, and pass its options through.
SETTING_NAMERS = ("lab/metrics/", "lab/evaluation.py", "lab/commands/eval.py")


def test_the_engine_names_no_domain_setting() -> None:
    """No identifier or string of the engine is a key only a domain has (judge, grid_rows,
    image_size, sequence_length, ...): a domain's settings are read by the domain."""
    settings = _domain_settings()
    offenders = []
    for relative, tree in _engine_files():
        if relative.startswith(SETTING_NAMERS):
            continue
        skipped = _docstrings(tree)
        for node in ast.walk(tree):
            words: set[str] = set()
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in skipped:
                    words = set(re.findall(r"\w+", node.value))
            elif isinstance(node, ast.Name):
                words = {node.id}
            elif isinstance(node, ast.Attribute):
                words = {node.attr}
            elif isinstance(node, ast.arg):
                words = {node.arg}
            named = settings & words
            if named:
                offenders.append(f"{relative}:{node.lineno} names {sorted(named)}")
    assert offenders == []


def test_the_setting_check_sees_domain_settings() -> None:
    settings = _domain_settings()
    assert {"judge", "grid_rows", "truncation", "image_size", "sequence_length"} <= settings
    assert {"batch_size", "max_epochs", "generations", "cache_dir"}.isdisjoint(settings)


def test_the_engine_names_no_domain() -> None:
    """No string of the engine is a domain's name ("images", "text", "vectors")."""
    names = {spec.name for spec in registry.specs()}
    offenders = [
        f"{relative}:{node.lineno} names {node.value!r}"
        for relative, tree in _engine_files()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert offenders == []
