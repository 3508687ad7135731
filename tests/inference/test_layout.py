"""The package's layout: no import cycle between its files (imports inside functions and under
TYPE_CHECKING count too), and every module opens with a docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inference
from tests.import_graph import cycles, import_graph, module_names

PACKAGE = Path(inference.__file__).parent


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
