"""The live cluster as tables: nodes, running jobs and the queue with reasons in plain words."""

from __future__ import annotations

import time
from typing import Any

from hpc.slurm.state import ClusterState


def busy_fraction(state: ClusterState) -> float:
    """Allocated cores over cores on available nodes (0 when none is available)."""
    nodes = [n for n in state.nodes if n.available]
    total = sum(n.cpus for n in nodes)
    return sum(n.alloc_cpus for n in nodes) / total if total else 0.0


def node_rows(state: ClusterState) -> list[dict[str, Any]]:
    return [
        {"node": n.name, "state": n.label, "cpus": f"{n.alloc_cpus}/{n.cpus}",
         "gpus": f"{n.gpus_used}/{n.gpus}", "partitions": ",".join(n.partitions),
         "reason": n.reason}
        for n in state.nodes
    ]  # fmt: skip


def pending_rows(state: ClusterState, now_s: int | None = None) -> list[dict[str, Any]]:
    now = int(time.time()) if now_s is None else now_s
    return [
        {"job": j.display_id, "user": j.user, "account": j.account, "partition": j.partition,
         "cpus": j.cpus, "nodes": j.node_count, "waiting_s": max(0, now - j.submit_s),
         "reason": j.reason, "why": j.reason_text}
        for j in state.pending
    ]  # fmt: skip


def running_rows(state: ClusterState, now_s: int | None = None) -> list[dict[str, Any]]:
    now = int(time.time()) if now_s is None else now_s
    return [
        {"job": j.display_id, "user": j.user, "partition": j.partition, "cpus": j.cpus,
         "nodes": j.node_list, "running_for_s": max(0, now - (j.start_s or now))}
        for j in state.running
    ]  # fmt: skip
