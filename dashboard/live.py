"""The live cluster as tables: nodes, running jobs and the queue with reasons in plain words.

Text from the cluster is any user's (a job name may be bytes that are not UTF-8): every
text cell goes through `shown`, so a table always renders (and Arrow can encode it).
"""

from __future__ import annotations

import time
from typing import Any

from hpc.slurm.output import shown
from hpc.slurm.state import ClusterState


def busy_fraction(state: ClusterState) -> float:
    """Allocated cores over cores on available nodes (0 when none is available)."""
    nodes = [n for n in state.nodes if n.available]
    total = sum(n.cpus for n in nodes)
    return sum(n.alloc_cpus for n in nodes) / total if total else 0.0


def node_rows(state: ClusterState) -> list[dict[str, Any]]:
    return [
        {"node": shown(n.name), "state": shown(n.label), "cpus": f"{n.alloc_cpus}/{n.cpus}",
         "gpus": f"{n.gpus_used}/{n.gpus}", "partitions": shown(",".join(n.partitions)),
         "reason": shown(n.reason)}
        for n in state.nodes
    ]  # fmt: skip


def pending_rows(state: ClusterState, now_s: int | None = None) -> list[dict[str, Any]]:
    now = int(time.time()) if now_s is None else now_s
    return [
        {"job": j.display_id, "name": shown(j.name), "user": shown(j.user),
         "account": shown(j.account), "partition": shown(j.partition), "cpus": j.cpus,
         "nodes": j.node_count, "waiting_s": max(0, now - j.submit_s),
         "reason": shown(j.reason), "why": shown(j.reason_text)}
        for j in state.pending
    ]  # fmt: skip


def running_rows(state: ClusterState, now_s: int | None = None) -> list[dict[str, Any]]:
    now = int(time.time()) if now_s is None else now_s
    return [
        {"job": j.display_id, "name": shown(j.name), "user": shown(j.user),
         "partition": shown(j.partition), "cpus": j.cpus, "nodes": shown(j.node_list),
         "running_for_s": max(0, now - (j.start_s or now))}
        for j in state.running
    ]  # fmt: skip
