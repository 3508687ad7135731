"""Live answers: the forward plan of a live queue, and a pending job put to a predictor."""

from __future__ import annotations

import json

import pytest

from hpc.predict.forward import UserRatios, forward_plan, planned_end_s, user_ratios
from hpc.predict.history import History
from hpc.predict.live import live_names
from hpc.predict.live_answer import TrainedHistory, answer_live, find_pending
from hpc.predict.pending import pending_starts
from hpc.predict.predictor import Predictor
from hpc.site.model import NodeType, PartitionSpec, Site
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.errors import JobNotFoundError, JobNotPendingError
from hpc.slurm.state import ClusterState, LiveJob, Node, Partition

HOUR = 3600


def record(job_id: int, user: str, run_s: int, limit_s: int) -> AccountingRecord:
    return AccountingRecord(
        job_id, "j", user, "g", "acct", "batch", "COMPLETED", 0, 0, 100, 100 + run_s,
        limit_s, 1, 1, None,
    )  # fmt: skip


def state_at(now: int, *jobs: LiveJob, cores: int = 16) -> ClusterState:
    """Four nodes of `cores` cores in partition batch; each running job's cores allocated."""
    busy = sum(j.cpus for j in jobs if j.running)
    nodes = []
    for i in range(4):
        used = min(busy, cores)
        busy -= used
        nodes.append(Node(f"n{i}", "mixed", cores, used, 64_000, 0, partitions=("batch",)))
    parts = (Partition("batch", tuple(n.name for n in nodes), None, default=True),)
    return ClusterState("test", "22.05", "cli", tuple(nodes), parts, jobs)


def running(job_id: int, now: int, *, cpus: int, started_ago: int, limit: int) -> LiveJob:
    return LiveJob(
        job_id, "run", "alice", "acct", "batch", "RUNNING", "None", now - started_ago - 10,
        start_s=now - started_ago, time_limit_s=limit, cpus=cpus,
    )  # fmt: skip


def pending(job_id: int, now: int, *, cpus: int, limit: int, priority: int = 1,
            user: str = "bob", reason: str = "Resources") -> LiveJob:  # fmt: skip
    return LiveJob(
        job_id, "wait", user, "acct", "batch", "PENDING", reason, now - 120,
        time_limit_s=limit, cpus=cpus, priority=priority, start_s=now + 2 * HOUR,
    )  # fmt: skip


def test_users_run_for_their_usual_share_of_the_request() -> None:
    ratios = user_ratios([record(1, "alice", 1800, HOUR), record(2, "alice", 3600, HOUR)])
    assert ratios == {"alice": 0.75}
    now = 1_000_000
    job = running(5, now, cpus=64, started_ago=HOUR, limit=2 * HOUR)
    assert planned_end_s(job, ratios, now) == now + HOUR // 2  # 1.5 h of 2 h, 1 h gone
    late = running(6, now, cpus=64, started_ago=3 * HOUR, limit=4 * HOUR)
    assert planned_end_s(late, ratios, now) == now + HOUR  # past 3 h: runs to its limit


def test_a_job_past_its_usual_share_runs_as_far_as_the_users_longer_jobs_did() -> None:
    ratios = user_ratios(
        [record(k, "alice", run, 1000) for k, run in enumerate((200, 300, 500, 600, 900), 1)]
    )
    assert ratios["alice"] == 0.5
    now = 1_000_000
    job = running(5, now, cpus=4, started_ago=550, limit=1000)  # past 50%: of the jobs that
    assert planned_end_s(job, ratios, now) == now + 200  # ran longer, the median ran 75%
    job = running(6, now, cpus=4, started_ago=950, limit=1000)  # past them all: to its limit,
    assert planned_end_s(job, ratios, now) == now + 60  # and a minute more at least
    assert ratios.beyond("bob", 0.1) is None  # no history: no guess


def test_the_queue_starts_in_priority_order_as_the_machine_frees() -> None:
    now = 1_000_000
    state = state_at(
        now,
        running(5, now, cpus=64, started_ago=HOUR, limit=2 * HOUR),
        pending(7, now, cpus=64, limit=HOUR, priority=10),
        pending(8, now, cpus=64, limit=HOUR, priority=20),
        pending(9, now, cpus=64, limit=HOUR, reason="JobHeldUser"),
    )
    plan = forward_plan(state, UserRatios.of({"alice": [0.75]}), now)
    assert plan[8].start_s == now + HOUR // 2  # the higher priority goes first
    assert plan[7].start_s == now + HOUR // 2 + HOUR
    assert 9 not in plan  # held: nothing plans it
    assert plan[8].method == "one-pool plan of batch"


def test_the_site_twin_places_the_job_on_named_nodes() -> None:
    now = 1_000_000
    site = Site(
        name="tiny",
        node_types={"cpu": NodeType("cpu", cores=16, mem_mb=64_000)},
        nodes={f"n{i}": "cpu" for i in range(4)},
        partitions=(PartitionSpec("batch", tuple(f"n{i}" for i in range(4)), default=True),),
    )
    state = state_at(
        now,
        running(5, now, cpus=64, started_ago=HOUR, limit=2 * HOUR),
        pending(7, now, cpus=16, limit=HOUR),
    )
    planned = forward_plan(state, UserRatios.of({"alice": [0.75]}), now, site)[7]
    assert planned.start_s == now + HOUR // 2
    assert len(planned.nodes) == 1 and planned.nodes[0].startswith("n")
    assert planned.method == "site twin tiny"


def test_only_a_pending_job_is_answered() -> None:
    now = 1_000_000
    state = state_at(now, running(5, now, cpus=16, started_ago=60, limit=HOUR))
    with pytest.raises(JobNotFoundError, match="job 6 is not in the queue"):
        find_pending(state, 6)
    with pytest.raises(JobNotPendingError, match="job 5 is running, not pending"):
        find_pending(state, 5)


@pytest.fixture(scope="module")
def live(history: History, predictor: Predictor) -> tuple[ClusterState, int]:
    """A live queue just after the history ends: the machine (64 procs) full, two waiting."""
    now = history.epoch_s + int(history.jobs.submit_s[-1]) + 600
    state = state_at(
        now,
        running(5, now, cpus=64, started_ago=HOUR, limit=3 * HOUR),
        pending(7, now, cpus=32, limit=2 * HOUR, priority=10),
        pending(8, now, cpus=8, limit=HOUR, priority=5, user="carol"),
    )
    return state, now


def test_a_pending_job_gets_band_window_plan_reasons_and_options(
    history: History, predictor: Predictor, live: tuple[ClusterState, int]
) -> None:
    state, now = live
    first = int(history.jobs.job_id[0])
    records = [record(first, "bob", 600, HOUR)]
    trained = TrainedHistory(predictor, {1: "batch"}, "test history")
    answer = answer_live(state, 7, records, now, trained=trained)
    assert answer.advice is not None and answer.plan is not None
    p10, p50, p90 = answer.advice.start_s()
    assert now <= p10 <= p50 <= p90
    lo, hi = answer.advice.likely_s()
    assert now <= lo < hi and 0 < answer.advice.prediction.likely.chance <= 1
    assert answer.plan.start_s is not None and answer.plan.start_s > now  # machine is full
    assert answer.names is not None and answer.names.user("bob") == int(history.jobs.user[0])
    data = answer.as_dict()
    json.dumps(data)  # one JSON object
    assert data["slurm_start_s"] == now + 2 * HOUR
    assert data["why"]["sentence"].startswith("Predicted wait")  # type: ignore[index]
    assert data["alternatives"] and data["model"] == "test history"
    text = "\n".join(answer.lines())
    for part in ("predicted start: most likely", "p10-p90", "forward plan:", "Slurm's plan:",
                 "why: Predicted wait", "drivers:", "alternatives (best first):"):  # fmt: skip
        assert part in text


def test_without_a_model_the_plan_and_slurm_still_answer(live: tuple[ClusterState, int]) -> None:
    state, now = live
    answer = answer_live(state, 8, [], now, model_note="no history imported")
    assert answer.advice is None and answer.plan is not None
    assert "predicted start: no model (no history imported)" in "\n".join(answer.lines())


def test_the_table_path_gives_every_pending_job_plan_and_median(
    predictor: Predictor, live: tuple[ClusterState, int]
) -> None:
    state, now = live
    trained = TrainedHistory(predictor, {1: "batch"}, "test history")
    starts = pending_starts(state, [], now, trained=trained)
    assert set(starts) == {7, 8}
    for start in starts.values():
        assert start.plan_s is not None and start.model_p50_s is not None
        assert start.model_p50_s >= now


def test_users_are_matched_through_shared_job_ids(history: History) -> None:
    ids, users = history.jobs.job_id.tolist(), history.jobs.user.tolist()
    names = live_names(history, {2: "gpu"}, [record(ids[3], "dana", 10, 60), record(-5, "x", 1, 2)])
    assert names.user("dana") == users[3] and names.user("x") == -1
    assert names.partition("gpu") == 2 and names.partition("batch") == -1
