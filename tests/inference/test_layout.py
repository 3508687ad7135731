"""The package's layout: no import cycle between its files (imports inside functions and under
TYPE_CHECKING count too), and every module opens with a docstring."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import inference

PACKAGE = Path(inference.__file__).parent


def module_names(root: Path) -> dict[str, Path]:
    """Each module's dotted name under `root` (a package folder) and its file."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(node: ast.Import | ast.ImportFrom, here: str, is_package: bool) -> Iterator[str]:
    """The dotted names one import statement may load (a module, or a name in one)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: from the package that holds `here`
        package = here.split(".")
        package = package[: len(package) - node.level + (1 if is_package else 0)]
        base = ".".join([*package, base] if base else package)
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Which modules under `root` each one imports, wherever the import statement stands."""
    names = module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                is_package = path.name == "__init__.py"
                targets.update(t for t in _imported(node, name, is_package) if t in names)
        # `from a import b` loads a.b when b is a module, else only a: keep the deepest.
        graph[name] = {t for t in targets if not any(u.startswith(t + ".") for u in targets)}
        graph[name].discard(name)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
    return sorted(found)


def test_no_import_cycle_between_the_files_of_inference() -> None:
    graph = import_graph(PACKAGE)
    assert len(graph) > 30  # the walk found the package's modules
    assert cycles(graph) == []


def test_the_cycle_check_sees_imports_in_functions_and_under_type_checking(
    tmp_path: Path,
) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""A package."""\n')
    (pkg / "sub" / "__init__.py").write_text('"""A sub-package."""\n')
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from pkg import c\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import X\n"
    )
    (pkg / "d.py").write_text("from . import a\n")  # imports into the cycle, not part of it
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (pkg / "c.py").write_text('"""No import back."""\n')
    assert cycles(import_graph(pkg)) == []


def test_sub_packages_import_each_other_one_way_only() -> None:
    """loading, model, fused, structured, engine, serve, hybrid: each layer on those below."""
    top: dict[str, set[str]] = {}
    for name, targets in import_graph(PACKAGE).items():
        layer = ".".join(name.split(".")[:2])
        top.setdefault(layer, set()).update(".".join(t.split(".")[:2]) for t in targets)
        top[layer].discard(layer)
    assert cycles(top) == []


@pytest.mark.parametrize("name", sorted(module_names(PACKAGE)))
def test_every_module_opens_with_a_docstring(name: str) -> None:
    path = module_names(PACKAGE)[name]
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path}: no module docstring"
