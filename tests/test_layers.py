"""The package's import graph has no circle and no back-arrow (docs/design.md, the module layout).

Every ``deepcee`` import counts, module-level or inside a function: a lazy import still ties two
modules together. Modules may not import each other in a circle, and a package may import only
packages below it in ``LAYERS`` (core at the bottom, the benchmarks on top): what two stages
share lives in ``deepcee.core``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Bottom to top: a package may import its own modules and those of the packages before it.
LAYERS = ("core", "catalogue", "images", "redshift", "detector", "search", "evaluate", "paper", "bench")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the deepcee modules it imports (``from deepcee.x import y`` counts y when y is a module)."""
    modules = {_module_name(p): p for p in (SRC / "deepcee").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deepcee"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("deepcee")}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_module_imports_itself_in_a_circle():
    cycle = _cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_no_package_imports_one_above_it():
    rank = {name: k for k, name in enumerate(LAYERS)}
    back = [
        f"{src} imports {dst}"
        for src, targets in import_graph().items()
        for dst in targets
        if _package(src) in rank and _package(dst) in rank and rank[_package(dst)] > rank[_package(src)]
    ]
    assert not back, "; ".join(sorted(back))


def test_the_checks_see_a_circle_and_a_back_arrow():
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    assert "deepcee.core.contracts" in graph["deepcee.search.report"]  # the graph sees real imports
