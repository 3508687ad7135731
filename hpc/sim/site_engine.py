"""The site replay: jobs on the nodes of a `Site`, with partitions, GPUs, memory, QOS limits,
reservations and Slurm's multifactor priority, under EASY or conservative backfill.

At each event time: completions (releasing their nodes), then submissions, then one pass.
A pass walks the pending jobs in priority order (partition PriorityTier first, as Slurm
does). A job that breaks a QOS limit waits with that reason and blocks nobody. A job that
fits now, on its partition's nodes free of reservations for its whole requested time, starts
unless it would delay a reserved job. A job that does not fit gets a reservation (EASY: the
first such job of each partition; conservative: every one, up to bf_max_job_test) at the
earliest time its partition can hold it, given the requested ends of running jobs and the
reservations made before it. A later job may start early only if it ends before each
reservation it overlaps or leaves the reserved job's share of every shared node free: on a
one-partition, one-node site this is exactly the one-pool EASY of `hpc.sim.backfill`, so
SWF traces replay job for job as before (tests hold this).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from heapq import heappop, heappush

import numpy as np
import numpy.typing as npt

from hpc.errors import SimulationError
from hpc.model import IntArray, JobTable, Machine
from hpc.sim.engine import SimResult
from hpc.sim.policy import BackfillMode, Policy, QueueOrder
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_limits import (
    PARTITION_SIZE,
    PARTITION_TIME,
    PRIORITY,
    QOS_WALL,
    RESOURCES,
    QosUsage,
)
from hpc.sim.site_nodes import NodePool, Placement
from hpc.sim.site_priority import SitePriority
from hpc.sim.state import COMPLETED, NEVER, RUNNING, TIMEOUT
from hpc.site.model import Site

Free = tuple[IntArray, IntArray, IntArray]


@dataclass(slots=True)
class _Reservation:
    """A blocked job's promise: its nodes from `start_s`, and what others may still use."""

    start_s: int
    end_s: int
    nodes: npt.NDArray[np.bool_]
    need: tuple[int, int, int]  # per node: cores, GPUs, memory
    spare: Free  # free at start_s beyond the reserved job's need (on its nodes)


@dataclass(frozen=True, slots=True)
class PartitionRow:
    partition: str
    jobs: int
    started: int
    mean_wait_s: float
    p95_wait_s: float
    usage_share: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class SiteResult:
    """A site replay: the one-pool `SimResult` (metrics, breakdowns) plus per-job reasons."""

    result: SimResult
    site: Site
    demand: SiteDemand
    reasons: list[str]  # the last pending reason of each job ("" if it started at once)
    placements: list[Placement | None]  # where each job ran (None: never started)

    def partition_summary(self) -> list[PartitionRow]:
        """Per-partition figures: jobs, started, mean and p95 wait, usage share."""
        from hpc.metrics import job_metrics

        jm = job_metrics(self.result)
        parts = self.demand.partition
        used = self.result.units[jm.index] * (jm.response_s - jm.wait_s)
        total = float(used.sum()) or 1.0
        rows = []
        for i, p in enumerate(self.site.partitions):
            mine = parts[jm.index] == i
            waits = jm.wait_s[mine]
            rows.append(
                PartitionRow(
                    partition=p.name,
                    jobs=int(np.sum(parts == i)),
                    started=int(mine.sum()),
                    mean_wait_s=float(waits.mean()) if len(waits) else 0.0,
                    p95_wait_s=float(np.percentile(waits, 95)) if len(waits) else 0.0,
                    usage_share=float(used[mine].sum()) / total,
                )
            )
        return rows


class SiteEngine:
    """Mutable state of one site replay; `run()` once."""

    def __init__(self, jobs: JobTable, demand: SiteDemand, site: Site, policy: Policy) -> None:
        demand.check(jobs, site)
        if policy.order not in (QueueOrder.FCFS, QueueOrder.SJF, QueueOrder.MULTIFACTOR):
            raise SimulationError(
                f"a site replay orders the queue by fcfs, sjf or multifactor (Slurm's "
                f"priority), not {policy.order.value}"
            )
        n = len(jobs)
        self.jobs, self.demand, self.site, self.policy = jobs, demand, site, policy
        self.pool = NodePool(site)
        self.req = np.maximum(jobs.req_time_s, 1).tolist()
        run = np.maximum(jobs.run_s, 0)
        kill = policy.kill_at_limit
        self.duration = (np.minimum(run, jobs.req_time_s) if kill else run).tolist()
        self.timeout = ((run > jobs.req_time_s) & kill).tolist()
        self.want = list(
            zip(demand.nodes.tolist(), jobs.procs.tolist(), demand.gpus.tolist(),
                demand.mem_mb.tolist(), strict=True)
        )  # fmt: skip
        self.part = demand.partition.tolist()
        self.qos, self.account = demand.qos.tolist(), demand.account.tolist()
        self.user = jobs.user.tolist()
        self.tier = [site.partitions[p].priority_tier for p in self.part]
        self.limits = QosUsage(site, demand.qos_names)
        self.priority = SitePriority(jobs, demand, site, policy.order)
        self.start_s, self.end_s = [-1] * n, [-1] * n
        self.state = bytearray(n)
        self.reasons = [""] * n
        self.placed: list[Placement | None] = [None] * n
        self.finishing: list[tuple[int, int]] = []
        self.running: set[int] = set()
        self.pending: list[int] = []

    # ------------------------------------------------------------ pieces
    def _tres(self, job: int) -> dict[str, int]:
        nodes, cores, gpus, mem = self.want[job]
        return {"cpu": cores, "gres/gpu": gpus, "mem": mem, "node": max(nodes, 1)}

    def _never(self, job: int) -> str | None:
        """Why a job can never start on this site, or None."""
        p = self.site.partitions[self.part[job]]
        if p.max_time_s is not None and self.req[job] > p.max_time_s:
            return PARTITION_TIME
        spec = self.limits.specs[self.qos[job]] if self.qos[job] >= 0 else None
        if spec is not None and spec.max_wall_s is not None and self.req[job] > spec.max_wall_s:
            return QOS_WALL
        if not self.pool.can_ever_fit(self.part[job], self.want[job]):
            return PARTITION_SIZE
        return None

    def _start(self, job: int, place: Placement, now: int) -> None:
        self.pool.take(place)
        self.limits.charge(self.qos[job], self.user[job], self.account[job], self._tres(job), 1)
        self.placed[job] = place
        self.start_s[job], self.end_s[job] = now, now + self.duration[job]
        self.state[job] = RUNNING
        self.running.add(job)
        heappush(self.finishing, (self.end_s[job], job))

    def _finish(self, job: int, now: int) -> None:
        place = self.placed[job]
        assert place is not None
        self.pool.give_back(place)
        self.limits.charge(self.qos[job], self.user[job], self.account[job], self._tres(job), -1)
        self.state[job] = TIMEOUT if self.timeout[job] else COMPLETED
        self.running.discard(job)
        self.priority.charge(job, place.cores * len(place.nodes), now - self.start_s[job])

    def _earliest(self, job: int, now: int, held: list[_Reservation]) -> _Reservation | None:
        """The earliest time the job's partition can hold it, after the requested ends of
        running jobs and around the reservations already made; None: not in the horizon."""
        req = self.req[job]
        ends = sorted((self.start_s[j] + self.req[j], j) for j in self.running)
        later = [r.end_s for r in held] + [end for _, end, _ in self.pool.reservations]
        times = sorted({now, *(max(e, now) for e, _ in ends), *(t for t in later if t > now)})
        free = [a.copy() for a in (self.pool.free_cores, self.pool.free_gpus, self.pool.free_mem)]
        k = 0
        for t in times:
            while k < len(ends) and ends[k][0] <= t:
                place = self.placed[ends[k][1]]
                assert place is not None
                free[0][place.nodes] += place.cores
                free[1][place.nodes] += place.gpus
                free[2][place.nodes] += place.mem_mb
                k += 1
            at_t = [a.copy() for a in free]
            for r in held:
                if r.start_s < t + req and t < r.end_s:
                    for a, need in zip(at_t, r.need, strict=True):
                        a[r.nodes] -= need
            mask = self.pool.eligible(self.part[job], t, t + req)
            place = self.pool.fit(mask, self.want[job], (at_t[0], at_t[1], at_t[2]))
            if place is not None:
                nodes = np.zeros(len(mask), dtype=np.bool_)
                nodes[place.nodes] = True
                spare = (at_t[0] - place.cores * nodes, at_t[1] - place.gpus * nodes,
                         at_t[2] - place.mem_mb * nodes)  # fmt: skip
                return _Reservation(t, t + req, nodes, (place.cores, place.gpus, place.mem_mb),
                                    spare)  # fmt: skip
        return None

    def _respects(self, place: Placement, now: int, job: int, held: list[_Reservation]) -> bool:
        """Starting `job` on `place` now delays no reservation; if so, the spares shrink."""
        end = now + self.req[job]
        touched = [r for r in held if end > r.start_s and r.nodes[place.nodes].any()]
        for r in touched:
            on = place.nodes[r.nodes[place.nodes]]
            if (
                (r.spare[0][on] < place.cores).any()
                or (r.spare[1][on] < place.gpus).any()
                or ((r.spare[2][on] < place.mem_mb) & self.pool.mem_known[on]).any()
            ):
                return False
        for r in touched:
            on = place.nodes[r.nodes[place.nodes]]
            r.spare[0][on] -= place.cores
            r.spare[1][on] -= place.gpus
            r.spare[2][on] -= place.mem_mb
        return True

    def _pass(self, now: int) -> None:
        mode = self.policy.backfill
        order = self.priority.order(self.pending, now, self.tier)
        held: list[_Reservation] = []
        blocked: set[int] = set()
        started: set[int] = set()
        budget = self.site.backfill.max_job_test
        every = len(self.site.partitions)
        for job in order:
            if mode is BackfillMode.NONE and len(blocked) == every:
                break  # strict order: nothing behind a blocked head starts
            reason = self.limits.blocked(self.qos[job], self.user[job], self.account[job],
                                         self._tres(job))  # fmt: skip
            if reason is not None:
                self.reasons[job] = reason
                continue
            p = self.part[job]
            if p in blocked and mode is BackfillMode.NONE:
                self.reasons[job] = PRIORITY
                continue
            place = None
            if self.pool.may_fit(self.want[job]):
                mask = self.pool.eligible(p, now, now + self.req[job])
                place = self.pool.fit(mask, self.want[job])
            if place is not None and self._respects(place, now, job, held):
                self._start(job, place, now)
                started.add(job)
                continue
            self.reasons[job] = PRIORITY if p in blocked else RESOURCES
            reserve = (mode is BackfillMode.EASY and p not in blocked) or (
                mode is BackfillMode.CONSERVATIVE and len(held) < budget
            )
            blocked.add(p)
            if reserve:
                found = self._earliest(job, now, held)
                if found is not None:
                    held.append(found)
        if started:
            self.pending = [j for j in self.pending if j not in started]

    # ------------------------------------------------------------ loop
    def run(self) -> None:
        submit = self.jobs.submit_s.tolist()
        n, i = len(submit), 0
        # A reservation's end frees its nodes: a pass must run then, job event or not.
        timers = sorted({r.end_s for r in self.site.reservations}, reverse=True)
        while True:
            now = min(submit[i] if i < n else NEVER,
                      self.finishing[0][0] if self.finishing else NEVER,
                      timers[-1] if timers else NEVER)  # fmt: skip
            if now == NEVER:
                break
            freed = False
            while timers and timers[-1] <= now:
                timers.pop()
                freed = True
            while self.finishing and self.finishing[0][0] == now:
                _, job = heappop(self.finishing)
                self._finish(job, now)
                freed = True
            arrived = False
            while i < n and submit[i] == now:
                never = self._never(i)
                if never is None:
                    self.pending.append(i)
                    self.reasons[i] = PRIORITY
                    arrived = True
                else:
                    self.reasons[i] = never
                i += 1
            if self.pending and (arrived or freed):
                self._pass(now)

    def result(self, wall_s: float) -> SiteResult:
        total = self.site.totals()["cores"]
        jobs = replace(self.jobs, partition=self.demand.partition.astype(np.int64))
        starts = np.array(self.start_s, dtype=np.int64)
        first = int(self.jobs.submit_s[0]) if len(self.jobs) else 0
        sim = SimResult(
            jobs=jobs,
            machine=Machine.procs_only(total),
            policy=self.policy,
            start_s=starts,
            end_s=np.array(self.end_s, dtype=np.int64),
            state=np.frombuffer(bytes(self.state), dtype=np.uint8).copy(),
            units=self.jobs.procs.astype(np.int64),
            capacity_steps=[(first, total)],
            wall_s=wall_s,
        )
        return SiteResult(sim, self.site, self.demand, self.reasons, list(self.placed))


def simulate_site(
    jobs: JobTable, site: Site, policy: Policy, demand: SiteDemand | None = None
) -> SiteResult:
    """Replay `jobs` on `site` under `policy` (the demand defaults to processors only)."""
    started = time.perf_counter()
    engine = SiteEngine(jobs, demand or SiteDemand.plain(jobs, site), site, policy)
    engine.run()
    return engine.result(time.perf_counter() - started)
