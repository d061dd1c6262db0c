"""The package layout: no import circles, and lower layers never import the node.

Reads the source with ``ast`` (imports under ``TYPE_CHECKING`` and inside
functions count too), so it checks the code as written, not what one run
happened to import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "skylet"

#: Modules that know the node; the lower layers must not import them.
NODE_MODULES = {"skylet._core._node", "skylet._core._commands"}
#: Layers below the node: the Lua side and the network.
LOWER_LAYERS = ("skylet._lua", "skylet._net", "skylet._libs")
#: All the lower layers may use of the core: its leaf modules.
CORE_BASICS = {
    "skylet._core",
    "skylet._core._errors",
    "skylet._core._pack",
    "skylet._core._paths",
    "skylet._core._ptype",
    "skylet._core._service",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The skylet modules ``name`` imports (a package counts as its ``__init__``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module pkg.mod if there is one.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # Importing a.b.c runs a/b/__init__ first (the root package aside:
            # it re-exports the API and every module is under it).
            parts = target.split(".")
            chain = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
            found.update(t for t in chain if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_modules_and_their_imports() -> None:
    graph = import_graph()
    # A sanity check of the checker itself: it must see known edges.
    assert "skylet._core._node" in graph["skylet"]
    assert "skylet._core._errors" in graph["skylet._lua._codecache"]
    assert "skylet._core._ptype" in graph["skylet._core._node"]  # from . import _ptype
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    assert cycles(import_graph()) == []


def in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_lower_layers_do_not_reach_the_node(layer: str) -> None:
    graph = import_graph()
    offending = {
        (module, target)
        for module in graph
        if in_layer(module, layer)
        for target in reachable(graph, module)
        if target in NODE_MODULES or in_layer(target, "skylet._tools")
    }
    assert offending == set()


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_lower_layers_use_only_the_basics_of_the_core(layer: str) -> None:
    graph = import_graph()
    offending = {
        (module, target)
        for module, targets in graph.items()
        if in_layer(module, layer)
        for target in targets
        if in_layer(target, "skylet._core") and target not in CORE_BASICS
    }
    assert offending == set()


def test_the_core_does_not_import_the_tools() -> None:
    graph = import_graph()
    offending = {
        (module, target)
        for module, targets in graph.items()
        if in_layer(module, "skylet._core")
        for target in targets
        if in_layer(target, "skylet._tools")
    }
    assert offending == set()


def test_every_folder_of_python_modules_is_a_package() -> None:
    # setup.py ships what find_packages finds: folders with an __init__.py.
    folders = {path.parent for path in PACKAGE.rglob("*.py")}
    assert sorted(str(f) for f in folders if not (f / "__init__.py").is_file()) == []
