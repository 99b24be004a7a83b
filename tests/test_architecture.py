"""The package layout keeps its promises (docs/architecture.md): no import cycle, a
config that loads without torch, and an engine that names no dataset and no model kind."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from lab.domains import registry

ROOT = Path(__file__).parent.parent
# Where a dataset or a model kind may be named: the domains and the image datasets.
KIND_HOMES = ("lab/domains/", "lab/data/")


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
            # Importing a.b.c runs the packages a and a.b first.
            edges.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
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


def test_loading_the_config_module_loads_no_torch() -> None:
    code = "import sys, lab.config; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


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
