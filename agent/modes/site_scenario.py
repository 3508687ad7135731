"""A typed what-if (`agent.modes.scenario.Scenario`) as change lines of a site's what-if
grammar (`hpc.site.changes`): nodes to or from a partition or of a node type, GPUs as whole
nodes of the site's GPU node type, priority weights, a QOS limit. What a site replay cannot
honour (a change that starts later or ends, more jobs, other requested times, a partition's
MaxTime) is refused with a reason, never dropped.
"""

from __future__ import annotations

from agent.errors import UnreadableQuestion
from agent.modes.scenario import Limit, Scenario
from hpc.site.model import Site

# Limit.what -> (grammar key, TRES name or None for a plain count / minutes).
_QOS_KEYS = {"cores": "cpu", "gpus": "gres/gpu", "nodes": "node"}


def scenario_lines(scenario: Scenario, site: Site) -> list[str]:
    """`scenario` as grammar lines for `site`; raises `UnreadableQuestion` saying what a
    site replay cannot simulate."""
    refuse_unsupported(scenario)
    lines: list[str] = []
    if scenario.node_delta:
        lines.append(_node_line(scenario.node_delta, scenario.partition, site))
    if scenario.gpu_delta:
        lines.append(_gpu_line(scenario.gpu_delta, scenario.partition, site))
    lines += [f"weight {key}={value}" for key, value in scenario.priority_weights]
    if scenario.limit is not None:
        lines.append(_limit_line(scenario.limit))
    return lines


def refuse_unsupported(s: Scenario) -> None:
    """Raise `UnreadableQuestion` where `s` holds what a site replay cannot simulate."""
    reasons = []
    if s.start_in_hours or s.duration_hours is not None:
        reasons.append(
            "its changes hold for the whole replay, so a change that starts later or ends is "
            "not one of them (a reservation is: 'reserve gpu from 2d for 4h')"
        )
    if s.workload_growth is not None:
        reasons.append("it replays the same jobs, not more or fewer (ask without --site)")
    if s.request_accuracy is not None:
        reasons.append("it replays the requested times as submitted (ask without --site)")
    if s.limit is not None and s.limit.scope == "partition":
        reasons.append("the site grammar has no verb for a partition's MaxTime")
    if reasons:
        raise UnreadableQuestion(
            f"a site replay cannot simulate {s.describe()}: " + "; ".join(reasons)
        )


def _node_line(delta: int, where: str | None, site: Site) -> str:
    partitions = {p.name for p in site.partitions}
    if delta > 0:
        if where is None or where in partitions:
            return f"add {delta} nodes" + (f" to {where}" if where else "")
        return f"add {delta} nodes of {where}"  # a node type: in the default partition
    if where is not None and where not in partitions:
        raise UnreadableQuestion(
            f"site {site.name!r} has no partition {where!r} to remove nodes from "
            f"(partitions: {', '.join(sorted(partitions))})"
        )
    return f"remove {-delta} nodes" + (f" from {where}" if where else "")


def _gpu_line(delta: int, where: str | None, site: Site) -> str:
    """GPUs as whole nodes of the site's one GPU node type (of partition `where`, if given)."""
    names = set(site.nodes.values())
    if where is not None and any(p.name == where for p in site.partitions):
        names = {site.nodes[n] for n in site.partition(where).nodes}
    kinds = {k: t for k, t in site.node_types.items() if k in names and t.gpus > 0}
    if len(kinds) != 1:
        found = ", ".join(f"{k} ({t.gpus} GPUs)" for k, t in kinds.items()) or "none"
        raise UnreadableQuestion(
            f"{abs(delta)} GPUs must come as nodes of one GPU node type, and site "
            f"{site.name!r}{' ' + where if where else ''} has {found}: ask for nodes instead "
            "('add 2 nodes of TYPE to PARTITION')"
        )
    ((kind, spec),) = kinds.items()
    nodes, rest = divmod(abs(delta), spec.gpus)
    if rest or not nodes:
        raise UnreadableQuestion(
            f"{abs(delta)} GPUs are not whole {kind} nodes ({spec.gpus} GPUs each): ask for "
            f"a multiple of {spec.gpus}"
        )
    home = where or max(site.partitions,
                        key=lambda p: sum(site.nodes[n] == kind for n in p.nodes)).name  # fmt: skip
    if delta > 0:
        return f"add {nodes} nodes of {kind} to {home}"
    last = site.partition(home).nodes[-nodes:]
    if any(site.nodes[n] != kind for n in last):
        raise UnreadableQuestion(
            f"the last {nodes} nodes of {home} are not all {kind} nodes: ask to remove nodes"
        )
    return f"remove {nodes} nodes from {home}"


def _limit_line(limit: Limit) -> str:
    value = int(limit.value)
    if limit.what == "max_wall_hours":
        return f"qos {limit.name} MaxWall={round(limit.value * 60)}"
    if limit.what == "jobs_per_user":
        return f"qos {limit.name} MaxJobsPU={value}"
    count, per = limit.what.rsplit("_per_", 1)
    key = "MaxTRESPU" if per == "user" else "MaxTRESPA"
    return f"qos {limit.name} {key}={_QOS_KEYS[count]}={value}"
