"""Dependencies run one way: no import cycles inside populace (function-level imports count too)."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "populace"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(package: pathlib.Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the populace modules it imports anywhere in its source (top level or inside functions)."""
    files = {_module_name(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from populace.x import y` imports populace.x.y when y is a module, else populace.x
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target.startswith("populace") and target != name and target != "populace":
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_populace_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 30
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("populace.spec", "populace.llm_filter"),  # the spec is read without the filter package
        ("populace.spec", "populace.inference.fit"),
        ("populace.posterior", "populace.inference.fit"),  # a posterior loads without fitting code
        ("populace.posterior", "populace.inference.diagnostics"),
        ("populace.models.base", "populace.models.loglinear"),  # the interface knows no kind
        ("populace.inference.fit", "populace.models.loglinear"),  # fit dispatches through the registry
        ("populace.outcomes.llm_simulator", "populace.llm_filter.language_model"),  # LMs load in one module
    ],
)
def test_dependencies_run_one_way(module: str, forbidden: str) -> None:
    reached = reachable(import_graph(), module)
    assert not [m for m in reached if m == forbidden or m.startswith(forbidden + ".")]
