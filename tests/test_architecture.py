"""The shape of the house: imports point down DESIGN.md's picture (import-linter contracts in
pyproject.toml), and no two files of one package import each other in a circle.

hpc/ and inference/ hold finer layout tests of their own (tests/hpc/test_layout.py,
tests/inference/test_layout.py); this one covers every package with grimp's graph.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

from tests.import_graph import cycles

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schedsight", "dashboard", "api", "agent", "db", "hpc", "inference")


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x", "a.w"}, "a.w": set()}
    assert cycles(edges) == [["a.x", "a.y", "a.z"]]
    assert cycles({"a.x": {"a.y"}, "a.y": set()}) == []


def test_no_file_imports_itself_in_a_circle() -> None:
    graph = grimp.build_graph(*PACKAGES)  # imports in functions and under TYPE_CHECKING count
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert cycles(edges) == []


def test_imports_point_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # lint-imports reads pyproject.toml from the working directory
    assert lint_imports(no_cache=True) == 0, "run `lint-imports` for the broken contract"
