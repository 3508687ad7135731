"""hpc/ is layered: no two of its modules import each other, directly or in a ring.

Every import counts, at module level, inside functions and under TYPE_CHECKING alike: a
cycle hidden in a function is still a cycle in the design (and was one here before).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, whether it is a package's __init__)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imported(module: str, is_package: bool, node: ast.AST, known: set[str]) -> set[str]:
    """The modules of `known` that one import statement names."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        name = ".".join([*base, node.module] if node.module else base)
    else:
        name = node.module or ""
    names = {f"{name}.{alias.name}" for alias in node.names} | {name}
    return names & known


def import_graph(package: str) -> nx.DiGraph:
    """Edges module -> module it imports, within `package` (implicit parent imports aside)."""
    modules = _modules(package)
    known = set(modules)
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for module, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for target in _imported(module, is_package, node, known) - {module}:
                graph.add_edge(module, target)
    return graph


def cycles(package: str) -> list[list[str]]:
    return sorted(
        sorted(c) for c in nx.strongly_connected_components(import_graph(package)) if len(c) > 1
    )


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph("hpc")
    assert graph.has_edge("hpc.sim.engine", "hpc.sim.backfill")  # absolute, module level
    assert graph.has_edge("hpc.metrics", "hpc.sim.engine")
    assert graph.number_of_edges() > 50


def test_hpc_has_no_import_cycles() -> None:
    assert cycles("hpc") == []
