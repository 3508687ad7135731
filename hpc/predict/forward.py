"""The twin's forward plan of a live queue: where each pending job lands if the queue plays out.

Durations are the hybrid ones that beat Slurm's own plan on the dev cluster
(bench/predict_slurm.py): a job runs for its request times its user's median runtime/request
ratio in recent accounting (1 when the user has no finished job there); a running job already
past that runs to the median share of the user's jobs that ran longer (to its limit when none
did), and at least a minute more (bench/predict_live.py). The plan is made on the
stored site (`hpc.sim.site_engine`: partitions, nodes, GPUs) when there is one, else on one
pool of cores per partition (`hpc.sim.profile`, the method of Slurm's backfill pass).
Held jobs are left out: nothing plans them. Times are seconds since the Unix epoch.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hpc.model import IntArray, JobTable
from hpc.sim.policy import BackfillMode, Policy, QueueOrder
from hpc.sim.profile import Profile
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.state import NEVER
from hpc.site.model import Site
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.hostlist import expand_hostlist
from hpc.slurm.state import ClusterState, LiveJob

OVERRUN_GRACE_S = 60  # a running job past its planned end still runs this long at least
DEFAULT_LIMIT_S = 3600  # a job without a time limit is planned for an hour
TWIN_POLICY = Policy(QueueOrder.FCFS, BackfillMode.EASY)  # the queue in Slurm's order


@dataclass(frozen=True, slots=True)
class PlannedStart:
    """One pending job's place in the plan: when (None: never, on what is up now) and where."""

    job_id: int
    start_s: int | None
    nodes: tuple[str, ...]
    method: str  # "site twin NAME" or "one-pool plan of PARTITION"


@dataclass(frozen=True, slots=True, eq=False)
class UserRatios(Mapping[str, float]):
    """Each user's runtime/request ratios of completed jobs (capped at 1), sorted; as a
    mapping, each user's median (the hybrid duration's ratio)."""

    samples: Mapping[str, tuple[float, ...]]
    medians: Mapping[str, float]

    @classmethod
    def of(cls, ratios: Mapping[str, Iterable[float]]) -> UserRatios:
        samples = {user: tuple(sorted(values)) for user, values in ratios.items()}
        medians = {user: float(np.median(values)) for user, values in samples.items() if values}
        return cls({u: v for u, v in samples.items() if v}, medians)

    def __getitem__(self, user: str) -> float:
        return self.medians[user]

    def __iter__(self) -> Iterator[str]:
        return iter(self.medians)

    def __len__(self) -> int:
        return len(self.medians)

    def beyond(self, user: str, share: float) -> float | None:
        """The median ratio of the user's jobs that ran longer than `share` of their request:
        how far a job still running at `share` of its request is likely to go (None: none
        of the user's jobs ran that long)."""
        values = self.samples.get(user, ())
        longer = values[bisect.bisect_right(values, share) :]
        return float(np.median(longer)) if longer else None


def user_ratios(records: Iterable[AccountingRecord]) -> UserRatios:
    """The runtime/request ratios of each user's completed jobs."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for r in records:
        run = r.run_s
        if r.state == "COMPLETED" and run is not None and r.time_limit_s:
            ratios[r.user].append(min(run / r.time_limit_s, 1.0))
    return UserRatios.of(ratios)


def duration_s(job: LiveJob, ratios: Mapping[str, float]) -> int:
    """The hybrid duration: the job's request times its user's ratio (1 if unknown)."""
    limit = job.time_limit_s or DEFAULT_LIMIT_S
    return max(1, int(limit * ratios.get(job.user, 1.0)))


def planned_end_s(job: LiveJob, ratios: UserRatios, now_s: int) -> int:
    """When a running job is planned to end: at its hybrid duration; once past that, where
    the user's jobs that ran as long ended (the median of them), else at its limit; and not
    before now plus a minute."""
    start = job.start_s or now_s
    end = start + duration_s(job, ratios)
    if end <= now_s:
        limit = job.time_limit_s or DEFAULT_LIMIT_S
        further = ratios.beyond(job.user, (now_s - start) / limit)
        end = start + (limit if further is None else int(limit * further))
    return max(end, now_s + OVERRUN_GRACE_S)


def queue_order(jobs: Iterable[LiveJob]) -> list[LiveJob]:
    """Pending jobs that can be planned (not held), in Slurm's priority order."""
    waiting = (j for j in jobs if j.pending and not j.held)
    return sorted(waiting, key=lambda j: (-j.priority, j.submit_s, j.job_id))


def forward_plan(
    state: ClusterState, ratios: UserRatios, now_s: int, site: Site | None = None
) -> dict[int, PlannedStart]:
    """Every plannable pending job's planned start, by job id."""
    if site is not None:
        return _site_plan(state, site, ratios, now_s)
    out: dict[int, PlannedStart] = {}
    for partition in state.partitions:
        out.update(_pool_plan(state, partition.name, ratios, now_s))
    return out


def _pool_plan(
    state: ClusterState, partition: str, ratios: UserRatios, now_s: int
) -> dict[int, PlannedStart]:
    """One pool of the partition's cores: running jobs on its nodes release theirs at their
    planned ends; its pending jobs, in priority order, take the earliest slots."""
    names = set(state.partition(partition).nodes)
    nodes = [n for n in state.nodes if n.name in names and n.available]
    free = sum(n.cpus - n.alloc_cpus for n in nodes)
    releases = []
    for job in state.running:
        on = expand_hostlist(job.node_list) if job.node_list else []
        share = sum(n in names for n in on) / len(on) if on else float(job.partition == partition)
        if share:
            releases.append((planned_end_s(job, ratios, now_s), round(job.cpus * share)))
    profile = Profile(now_s, free, releases)
    method = f"one-pool plan of {partition}"
    out = {}
    for job in queue_order(j for j in state.jobs if j.partition == partition):
        run = duration_s(job, ratios)
        begin = profile.earliest(job.cpus, run, now_s)
        if begin < NEVER:
            profile.add(begin, begin + run, -job.cpus)
        out[job.job_id] = PlannedStart(job.job_id, None if begin >= NEVER else begin, (), method)
    return out


def _site_plan(
    state: ClusterState, site: Site, ratios: UserRatios, now_s: int
) -> dict[int, PlannedStart]:
    """The site replay from now: running jobs enter at 0 with what is left of them, the
    queue at 1 in priority order (the engine breaks ties by row), under conservative
    backfill (EASY: a replay plays every job out; conservative holds cost more)."""
    index = {p.name: i for i, p in enumerate(site.partitions)}
    default = site.partitions.index(site.partition(None))
    running = [j for j in state.running if j.partition in index]
    queued = [j for j in queue_order(state.jobs) if j.partition in index]
    rows: list[tuple[LiveJob, int, int, int]] = []  # job, submit, run, request (sim seconds)
    for job in running:
        left = planned_end_s(job, ratios, now_s) - now_s
        limit_left = (job.start_s or now_s) + (job.time_limit_s or DEFAULT_LIMIT_S) - now_s
        rows.append((job, 0, left, max(left, limit_left)))
    for job in queued:
        rows.append((job, 1, duration_s(job, ratios), job.time_limit_s or DEFAULT_LIMIT_S))
    if not queued:
        return {}
    table = _table(rows)
    accounts = sorted({j.account for j, *_ in rows})
    zeros = np.zeros(len(rows), dtype=np.int64)
    demand = SiteDemand(
        partition=np.array([index.get(j.partition, default) for j, *_ in rows], dtype=np.int64),
        nodes=zeros,
        gpus=np.array([j.gpus for j, *_ in rows], dtype=np.int64),
        mem_mb=zeros.copy(),
        account=np.array([accounts.index(j.account) for j, *_ in rows], dtype=np.int64),
        qos=np.full(len(rows), -1, dtype=np.int64),
        accounts=tuple(accounts),
    )
    replay = simulate_site(table, site, TWIN_POLICY, demand)
    node_names = list(site.nodes)
    method = f"site twin {site.name}"
    out = {}
    for k in range(len(running), len(rows)):
        job = rows[k][0]
        start = int(replay.result.start_s[k])
        placed = replay.placements[k]
        where = tuple(node_names[i] for i in placed.nodes.tolist()) if placed else ()
        when = None if start >= NEVER else now_s + start
        out[job.job_id] = PlannedStart(job.job_id, when, where, method)
    return out


def _table(rows: Sequence[tuple[LiveJob, int, int, int]]) -> JobTable:
    users = sorted({j.user for j, *_ in rows})

    def column(values: Iterable[int]) -> IntArray:
        return np.array(list(values), dtype=np.int64)

    return JobTable(
        job_id=column(j.job_id for j, *_ in rows),
        submit_s=column(submit for _, submit, _, _ in rows),
        run_s=column(run for _, _, run, _ in rows),
        procs=column(max(j.cpus, 1) for j, *_ in rows),
        req_time_s=column(max(req, 1) for *_, req in rows),
        user=column(users.index(j.user) for j, *_ in rows),
        group=column(0 for _ in rows),
        queue=column(-1 for _ in rows),
        partition=column(-1 for _ in rows),
        req_mem_kb=column(-1 for _ in rows),
    )
