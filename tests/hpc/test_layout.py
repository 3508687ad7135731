"""hpc/ is layered: no two of its modules import each other, directly or in a ring.

Every import counts, at module level, inside functions and under TYPE_CHECKING alike: a
cycle hidden in a function is still a cycle in the design (and was one here before).
"""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import cycles, import_graph

HPC = Path(__file__).resolve().parents[2] / "hpc"


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph(HPC)
    assert "hpc.sim.backfill" in graph["hpc.sim.engine"]  # absolute, module level
    assert "hpc.sim.engine" in graph["hpc.metrics"]
    assert sum(len(targets) for targets in graph.values()) > 50


def test_hpc_has_no_import_cycles() -> None:
    assert cycles(import_graph(HPC)) == []
