"""A site's switch tree (Slurm's topology.conf) as a networkx graph.

Switches and nodes are vertices; an edge goes from each switch to its child switches and
to its nodes. What a switch failure takes out is its subtree: every node below it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpc.errors import SiteError
from hpc.site.model import Site

if TYPE_CHECKING:
    import networkx as nx


def switch_graph(site: Site) -> nx.DiGraph:
    """The switch tree: vertices ("switch", name) and ("node", name), edges parent -> child."""
    import networkx as nx

    graph = nx.DiGraph()
    for switch in site.switches:
        graph.add_node(("switch", switch.name))
        for child in switch.switches:
            graph.add_edge(("switch", switch.name), ("switch", child))
        for node in switch.nodes:
            graph.add_edge(("switch", switch.name), ("node", node))
    return graph


def nodes_below(site: Site, switch: str) -> tuple[str, ...]:
    """The nodes a switch's failure cuts off (its subtree), in the site's node order."""
    import networkx as nx

    graph = switch_graph(site)
    if ("switch", switch) not in graph:
        known = ", ".join(s.name for s in site.switches) or "none: the site has no topology"
        raise SiteError(f"site {site.name!r} has no switch {switch!r} (switches: {known})")
    below = {name for kind, name in nx.descendants(graph, ("switch", switch)) if kind == "node"}
    return tuple(n for n in site.nodes if n in below)
