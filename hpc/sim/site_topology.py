"""Topology-aware node choice in the site replay, as Slurm's topology/tree makes it.

A job that needs several nodes lands under one switch: the lowest-level switch whose subtree
has enough free eligible nodes (best fit: of those at that level, the one with the least to
spare). Below it, leaf switches are taken to use as few of them as possible: while no leaf
alone holds what is left, the one with the most free; then the one with the least free that
holds the rest. Within a leaf, nodes go in the site's order. A job no single switch's subtree
can hold does not start (Slurm's jobs span only nodes of one switch fabric), and nodes
outside every leaf switch take no multi-node job. A job one node holds is placed as before
(`NodePool`'s best fit), so sites without switches, and one-node jobs, replay as they did.

`PlacementRule` says which choice a replay makes: by default topology where the site has
switches, best fit where it has none.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hpc.errors import SimulationError
from hpc.site.model import Site

if TYPE_CHECKING:
    from hpc.sim.site_nodes import Placement


class PlacementRule(enum.Enum):
    """How a multi-node job's nodes are chosen."""

    BEST_FIT = "best-fit"  # select/cons_tres alone: the best-fit run of consecutive nodes
    TOPOLOGY = "topology"  # topology/tree: under one switch, on the fewest leaf switches

    @classmethod
    def parse(cls, text: str) -> PlacementRule:
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(r.value for r in cls)
            raise SimulationError(f"no placement rule {text!r} (choose from {known})") from None


def rule_for(site: Site, rule: PlacementRule | str | None) -> PlacementRule:
    """The rule a replay of `site` uses: `rule`, or topology where the site has switches."""
    if rule is None:
        return PlacementRule.TOPOLOGY if site.switches else PlacementRule.BEST_FIT
    chosen = PlacementRule.parse(rule) if isinstance(rule, str) else rule
    if chosen is PlacementRule.TOPOLOGY and not site.switches:
        raise SimulationError(
            f"site {site.name!r} has no switch tree (topology.conf) to place jobs by: "
            "use placement best-fit, or import a site whose Slurm runs topology/tree"
        )
    return chosen


@dataclass(frozen=True, slots=True)
class SwitchTree:
    """The switch tree over node indices (the site's node order).

    `leaf_of[n]` is node n's leaf switch (-1: none); `subtrees` lists every switch as the
    leaves below it, lowest level first (a leaf is level 0, a switch one above its highest
    child), in topology.conf's order within a level."""

    leaf_of: tuple[int, ...]
    n_leaves: int
    subtrees: tuple[tuple[int, tuple[int, ...]], ...]  # (level, leaves below), by level

    @classmethod
    def of(cls, site: Site) -> SwitchTree:
        index = {n: i for i, n in enumerate(site.nodes)}
        by_name = {s.name: s for s in site.switches}
        leaves = [s.name for s in site.switches if s.nodes]
        leaf_index = {name: i for i, name in enumerate(leaves)}
        leaf_of = [-1] * len(index)
        for name in leaves:
            for node in by_name[name].nodes:
                if node in index:
                    leaf_of[index[node]] = leaf_index[name]
        below: dict[str, tuple[int, tuple[int, ...]]] = {}

        def walk(name: str, seen: frozenset[str]) -> tuple[int, tuple[int, ...]]:
            if name not in below:
                switch = by_name.get(name)
                kids = [] if switch is None or name in seen else list(switch.switches)
                parts = [walk(k, seen | {name}) for k in kids]
                level = 1 + max((lv for lv, _ in parts), default=-1)
                mine = (leaf_index[name],) if name in leaf_index else ()
                below[name] = (level, tuple(sorted({*mine, *(x for _, ls in parts for x in ls)})))
            return below[name]

        order = [walk(s.name, frozenset()) for s in site.switches]
        ranked = sorted(range(len(order)), key=lambda i: (order[i][0], i))
        return cls(tuple(leaf_of), len(leaves), tuple(order[i] for i in ranked))

    def choose(self, nodes: Sequence[int], amounts: Sequence[int] | None, need: int) -> list[int]:
        """Nodes of `nodes` (in order) giving `need` in all, each giving its amount (None:
        1 each), under one switch on the fewest leaves; [] when no switch holds `need`."""
        avail = [0] * self.n_leaves
        members: list[list[tuple[int, int]]] = [[] for _ in range(self.n_leaves)]
        leaf_of = self.leaf_of
        for k, n in enumerate(nodes):
            leaf, amount = leaf_of[n], 1 if amounts is None else amounts[k]
            if leaf >= 0 and amount > 0:
                avail[leaf] += amount
                members[leaf].append((n, amount))
        top: tuple[int, ...] | None = None
        top_level, top_avail = 0, 0
        for level, leaves in self.subtrees:
            if top is not None and level > top_level:
                break
            total = sum(avail[leaf] for leaf in leaves)
            if total >= need and (top is None or total < top_avail):
                top, top_level, top_avail = leaves, level, total
        if top is None:
            return []
        open_leaves = [leaf for leaf in top if avail[leaf] > 0]
        picked: list[int] = []
        left = need
        while left > 0:
            holding = [leaf for leaf in open_leaves if avail[leaf] >= left]
            if holding:
                leaf = min(holding, key=avail.__getitem__)
            else:
                leaf = max(open_leaves, key=avail.__getitem__)
            open_leaves.remove(leaf)
            for n, amount in members[leaf]:
                if left <= 0:
                    break
                picked.append(n)
                left -= amount
        picked.sort()
        return picked

    def spans(self, nodes: Sequence[int]) -> int:
        """How many leaf switches `nodes` use."""
        return len({self.leaf_of[n] for n in nodes} - {-1})


def leaf_spans(site: Site, placed: Sequence[Placement | None]) -> np.ndarray:
    """Per job, the leaf switches its nodes span; -1 for a job on one node or not started
    (0 for a multi-node job on a site without switches)."""
    out = np.full(len(placed), -1, dtype=np.int64)
    tree = SwitchTree.of(site) if site.switches else None
    for j, place in enumerate(placed):
        if place is not None and len(place.nodes) > 1:
            out[j] = 0 if tree is None else tree.spans(place.nodes.tolist())
    return out
