"""The live cluster as tables: nodes, running jobs and the queue with reasons in plain words.

Text from the cluster is any user's (a job name may be bytes that are not UTF-8): every
text cell goes through `shown`, so a table always renders (and Arrow can encode it).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpc.predict.pending import PendingStart, pending_starts
from hpc.site.model import Site
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.output import shown
from hpc.slurm.state import ClusterState
from hpc.timetext import clock_text, span_text

if TYPE_CHECKING:
    from hpc.predict.live_answer import LiveAnswer, TrainedHistory

RECENT_S = 2 * 86_400  # accounting read for the hybrid durations and the users' numbers
NO_MODEL = (
    "no start-time model: none is trained on this cluster's history yet (run `schedsight "
    "slurm import`, then restart the dashboard)"
)


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


def pending_rows(
    state: ClusterState,
    now_s: int | None = None,
    starts: Mapping[int, PendingStart] | None = None,
) -> list[dict[str, Any]]:
    """One row per pending job; with `starts`, its expected start as the local clock reads
    it: the forward plan's, and the model's median where there is a model."""
    now = int(time.time()) if now_s is None else now_s
    starts = starts or {}
    return [
        {"job": j.display_id, "name": shown(j.name), "user": shown(j.user),
         "account": shown(j.account), "partition": shown(j.partition), "cpus": j.cpus,
         "nodes": j.node_count, "waiting": span_text(max(0, now - j.submit_s)),
         **_expected(starts.get(j.job_id), now),
         "reason": shown(j.reason), "why": shown(j.reason_text)}
        for j in state.pending
    ]  # fmt: skip


def _expected(start: PendingStart | None, now: int) -> dict[str, str]:
    if start is None:
        return {}
    plan = clock_text(start.plan_s, now) if start.plan_s else "not planned"
    model = clock_text(start.model_p50_s, now) if start.model_p50_s is not None else ""
    return {"start (plan)": plan, "start (model median)": model}


def expected_starts(
    backend: SlurmBackend,
    state: ClusterState,
    site: Site | None,
    trained: TrainedHistory | None,
    now_s: int,
) -> dict[int, PendingStart]:
    """Each pending job's expected start (hybrid durations from two days of accounting)."""
    records = backend.history(start_s=now_s - RECENT_S)
    return pending_starts(state, records, now_s, site=site, trained=trained)


def answer(
    backend: SlurmBackend,
    state: ClusterState,
    job_id: int,
    site: Site | None,
    trained: TrainedHistory | None,
    now_s: int,
) -> LiveAnswer:
    """Everything about pending job `job_id` (`hpc.predict.live_answer`), as `schedsight
    when` answers it; `JobNotFoundError` or `JobNotPendingError` for a job it cannot answer."""
    from hpc.predict.live_answer import answer_live

    records = backend.history(start_s=now_s - RECENT_S)
    note = "" if trained is not None else NO_MODEL
    return answer_live(state, job_id, records, now_s, site=site, trained=trained, model_note=note)


def mine(state: ClusterState, user: str) -> ClusterState:
    """The snapshot with only `user`'s jobs (nodes and partitions unchanged)."""
    return dataclasses.replace(state, jobs=tuple(j for j in state.jobs if j.user == user))


def running_rows(state: ClusterState, now_s: int | None = None) -> list[dict[str, Any]]:
    now = int(time.time()) if now_s is None else now_s
    return [
        {"job": j.display_id, "name": shown(j.name), "user": shown(j.user),
         "partition": shown(j.partition), "cpus": j.cpus, "nodes": shown(j.node_list),
         "running for": span_text(max(0, now - (j.start_s or now)))}
        for j in state.running
    ]  # fmt: skip
