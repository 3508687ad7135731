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

import gc
import time
from bisect import bisect_left, insort
from dataclasses import asdict, dataclass, replace
from heapq import heappop, heappush

import numpy as np

from hpc.errors import SimulationError
from hpc.model import JobTable, Machine
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
from hpc.sim.site_nodes import NodePool, Placement, Slot, Want, placements
from hpc.sim.site_priority import SitePriority
from hpc.sim.site_reservations import Hold, earliest, respects
from hpc.sim.site_topology import PlacementRule, SwitchTree, leaf_spans, rule_for
from hpc.sim.state import COMPLETED, NEVER, PENDING, RUNNING, TIMEOUT
from hpc.site.model import Site


@dataclass(frozen=True, slots=True)
class PartitionRow:
    partition: str
    jobs: int
    started: int
    mean_wait_s: float
    p95_wait_s: float
    usage_share: float
    multi_node: int = 0  # jobs started on several nodes
    mean_leaf_switches: float | None = None  # those jobs' leaf switches (None: no switches)

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
    rule: PlacementRule = PlacementRule.BEST_FIT

    def partition_summary(self) -> list[PartitionRow]:
        """Per-partition figures: jobs, started, mean and p95 wait, usage share."""
        from hpc.metrics import job_metrics

        jm = job_metrics(self.result)
        parts = self.demand.partition
        used = self.result.units[jm.index] * (jm.response_s - jm.wait_s)
        total = float(used.sum()) or 1.0
        spans = leaf_spans(self.site, self.placements)
        rows = []
        for i, p in enumerate(self.site.partitions):
            mine = parts[jm.index] == i
            waits = jm.wait_s[mine]
            multi = (spans >= 0) & (parts == i)
            rows.append(
                PartitionRow(
                    partition=p.name,
                    jobs=int(np.sum(parts == i)),
                    started=int(mine.sum()),
                    mean_wait_s=float(waits.mean()) if len(waits) else 0.0,
                    p95_wait_s=float(np.percentile(waits, 95)) if len(waits) else 0.0,
                    usage_share=float(used[mine].sum()) / total,
                    multi_node=int(multi.sum()),
                    mean_leaf_switches=float(spans[multi].mean())
                    if self.site.switches and multi.any()
                    else None,
                )
            )
        return rows


Asked = tuple[int, tuple[int, int, Want]]  # a job whose hold is to be worked out, and its ask


@dataclass
class _Walk:
    """Where a pass stands: the partitions blocked, the holds made and asked for. (No
    default factories: compiled, each would cost an import per pass.)"""

    now: int
    blocked: list[bool]
    held: list[Hold]
    asked: list[Asked]
    asked_nodes: set[int]  # the partitions' nodes of `asked`
    n_blocked: int = 0


def _none_before(held: list[Hold], now: int) -> bool:
    """Whether every hold starts at or after `now` (apart from `_pass`: compiled, a
    generator there is a closure, which Cython's cpdef methods do not take)."""
    return all(h.start_s >= now for h in held)


class SiteEngine:
    """Mutable state of one site replay; `run()` once."""

    def __init__(
        self,
        jobs: JobTable,
        demand: SiteDemand,
        site: Site,
        policy: Policy,
        placement: PlacementRule | str | None = None,
    ) -> None:
        demand.check(jobs, site)
        if policy.order not in (QueueOrder.FCFS, QueueOrder.SJF, QueueOrder.MULTIFACTOR):
            raise SimulationError(
                f"a site replay orders the queue by fcfs, sjf or multifactor (Slurm's "
                f"priority), not {policy.order.value}"
            )
        n = len(jobs)
        self.jobs, self.demand, self.site, self.policy = jobs, demand, site, policy
        self.pool = NodePool(site)
        self.rule = rule_for(site, placement)
        if self.rule is PlacementRule.TOPOLOGY:
            self.pool.topology = SwitchTree.of(site)
        self.req: list[int] = np.maximum(jobs.req_time_s, 1).tolist()
        run = np.maximum(jobs.run_s, 0)
        kill = policy.kill_at_limit
        self.duration: list[int] = (np.minimum(run, jobs.req_time_s) if kill else run).tolist()
        self.timeout: list[bool] = ((run > jobs.req_time_s) & kill).tolist()
        self.want: list[Want] = list(
            zip(demand.nodes.tolist(), jobs.procs.tolist(), demand.gpus.tolist(),
                demand.mem_mb.tolist(), strict=True)
        )  # fmt: skip
        self.part: list[int] = demand.partition.tolist()
        self.qos: list[int] = demand.qos.tolist()
        self.account: list[int] = demand.account.tolist()
        self.user: list[int] = jobs.user.tolist()
        self.tier = [site.partitions[p].priority_tier for p in self.part]
        # Each job's ask, its (partition, want), numbered: the pool remembers its try by it.
        asks: dict[tuple[int, Want], int] = {}
        self.ask: list[int] = [
            asks.setdefault(key, len(asks)) for key in zip(self.part, self.want, strict=True)
        ]
        self.pool.number_asks(len(asks))
        self.max_time: list[int] = [NEVER if p.max_time_s is None else p.max_time_s
                                    for p in site.partitions]  # fmt: skip
        self.limits = QosUsage(site, demand.qos_names)
        self.qos_wall: list[int] = [
            NEVER if spec is None or spec.max_wall_s is None else spec.max_wall_s
            for spec in self.limits.specs
        ]
        # Per job, its QOS verdict and its (QOS, user)'s charge count then (`_walk`). The
        # pairs are numbered once, so that a visit reads the count by index, not by key.
        self.verdicts: list[tuple[int, str | None] | None] = [None] * n
        numbered: dict[tuple[int, int], int] = {}
        self.pair: list[int] = [
            numbered.setdefault(key, len(numbered)) for key in zip(self.qos, self.user, strict=True)
        ]
        self.charges: list[int] = [0] * len(numbered)  # jobs started and ended, per pair
        self.limits.number_pairs(len(numbered))
        self.priority = SitePriority(jobs, demand, site, policy.order)
        # fcfs and sjf: the queue stays sorted by each job's fixed rank.
        self.rank = None if self.priority.dynamic else self.priority.static_rank(self.tier)
        self.start_s, self.end_s = [-1] * n, [-1] * n
        self.state = bytearray(n)
        self.reasons = [""] * n
        self.placed: list[Slot | None] = [None] * n
        self.finishing: list[tuple[int, int]] = []  # heap of (actual end, job)
        self.expected: list[tuple[int, int]] = []  # sorted (requested end, job) of running jobs
        self.pending: list[int] = []  # in queue order; may still hold `stale` started jobs
        self.stale = 0
        # The first hold of the last pass and its job, reused while nothing could move it.
        self.kept: tuple[int, Hold] | None = None
        self.last: _Walk | None = None  # where the last pass ended, if it started nothing
        self.spare: _Walk | None = None  # a walk done with, to be emptied and reused
        self.reservations_over = max((r.end_s for r in site.reservations), default=-1)
        # Read by every pass: worked out once (an enum member's lookup costs a call).
        mode = policy.backfill
        self.no_backfill, self.easy = mode is BackfillMode.NONE, mode is BackfillMode.EASY
        self.budget = site.backfill.max_job_test if mode is BackfillMode.CONSERVATIVE else 0
        self.limited = [c is not None for c in self.limits.compiled]  # QOS with limits

    # ------------------------------------------------------------ pieces
    def _never(self, job: int) -> str | None:
        """Why a job can never start on this site, or None."""
        if self.req[job] > self.max_time[self.part[job]]:
            return PARTITION_TIME
        q = self.qos[job]
        if q >= 0 and self.req[job] > self.qos_wall[q]:
            return QOS_WALL
        if not self.pool.can_ever_fit(self.ask[job], self.part[job], self.want[job]):
            return PARTITION_SIZE
        return None

    def _start(self, job: int, slot: Slot, now: int) -> None:
        self.pool.take(slot)
        self.charges[self.pair[job]] += 1
        self.limits.charge(self.qos[job], self.pair[job], self.account[job], self.want[job], 1)
        self.placed[job] = slot
        self.start_s[job], self.end_s[job] = now, now + self.duration[job]
        self.state[job] = RUNNING
        self.stale += 1
        insort(self.expected, (now + self.req[job], job))
        heappush(self.finishing, (self.end_s[job], job))

    def _finish(self, job: int, now: int) -> None:
        slot = self.placed[job]
        assert slot is not None
        self.pool.give_back(slot)
        if self.kept is not None and not self.pool.partition_set[
            self.part[self.kept[0]]
        ].isdisjoint(slot[0]):
            self.kept = None
        self.charges[self.pair[job]] += 1
        self.limits.charge(self.qos[job], self.pair[job], self.account[job], self.want[job], -1)
        self.state[job] = TIMEOUT if self.timeout[job] else COMPLETED
        entry = (self.start_s[job] + self.req[job], job)
        del self.expected[bisect_left(self.expected, entry)]
        if self.rank is None:  # usage orders only a queue whose order moves
            self.priority.charge(job, sum(slot[1]), now - self.start_s[job])

    def _pass(self, now: int, new: list[int], freed: bool) -> None:
        """Start what may start now, in priority order; the rest get their reasons.

        After a pass that started nothing, a pass for arrivals alone that all rank after
        every job already waiting walks the arrivals only, from where the last pass ended:
        the jobs waiting would meet the same free nodes, limits and holds, so they would get
        the same reasons and start no more than then. That holds while no job ended, the
        queue order is fixed (fcfs, sjf), every site reservation is over (nodes stay
        eligible) and every hold made lies at or after now (it comes out the same)."""
        last, self.last = self.last, None
        walk = None
        if self.rank is None:
            self._compact()
            jobs = self.priority.order(self.pending, now, self.tier)
        elif (
            last is not None
            and not freed
            and last.now >= self.reservations_over
            and self.pending[-len(new) :] == new
            and _none_before(last.held, now)
        ):
            jobs, walk = new, last
        else:
            jobs = self.pending
        if walk is None:
            if last is not None:
                self.spare = last
            walk = self._fresh_walk(now)
        if self._walk(jobs, walk, now):
            # Started jobs stay in the queue, passed over by each walk, until they are half
            # of it: rebuilt after every start, the queue would cost more than the walks.
            if 2 * self.stale > len(self.pending):
                self._compact()
            self.spare = walk
        else:
            self.last = walk

    def _fresh_walk(self, now: int) -> _Walk:
        """A walk from the head of the queue: the last one done with, emptied, if any."""
        walk, self.spare = self.spare, None
        if walk is None:
            return _Walk(now, [False] * len(self.site.partitions), [], [], set())
        blocked = walk.blocked
        for p in range(len(blocked)):
            blocked[p] = False
        if walk.held:  # each emptied only if not empty: a method call costs more than a test
            walk.held.clear()
        if walk.asked:
            walk.asked.clear()
        if walk.asked_nodes:
            walk.asked_nodes.clear()
        walk.now, walk.n_blocked = now, 0
        return walk

    def _compact(self) -> None:
        """The queue without the jobs started since it was last rebuilt."""
        if self.stale:
            waiting, state, pending = [], self.state, PENDING
            for j in self.pending:  # a loop, not a comprehension: compiled, j is a C int
                if state[j] == pending:
                    waiting.append(j)
            self.pending = waiting
            self.stale = 0

    def _walk(self, jobs: list[int], walk: _Walk, now: int) -> bool:
        """Try `jobs` in order from where `walk` stands; whether any started.

        A blocked job's hold is worked out only once a later job fits on a node of its
        partition and must be checked against it, then every hold waiting is, in order: each
        is the hold it would have been when its job was passed over, since what started in
        between used only nodes outside its partition, which `earliest` never looks at (it
        tries the job on its partition's nodes only, where a job started elsewhere changes
        neither the free resources nor the times they free up), and which a hold never
        covers, so the started job needed no check against it. (`earliest` always finds a
        hold for a queued job, so the conservative budget counts holds asked for.)

        The first hold is kept for the next pass while no job ends on its partition, no
        reservation ends, and every job started since respects it: then the same job's
        first hold would come out the same (same time and nodes: what started since either
        ends before it or fits in its spare, which only narrows the choice down to the same
        nodes), so it is reused as it is, spare included."""
        none, easy = self.no_backfill, self.easy
        pool, limits, reasons, want_of = self.pool, self.limits, self.reasons, self.want
        qos_of, account_of, part_of, req_of = self.qos, self.account, self.part, self.req
        limited, ask_of = self.limited, self.ask
        user_keyed, charges, pair_of = limits.user_keyed, self.charges, self.pair
        verdicts = self.verdicts
        part_cores = pool.part_cores  # apart, not unpacked: compiled, typed memoryviews
        part_gpus = pool.part_gpus
        partition_set = pool.partition_set
        held, asked, blocked = walk.held, walk.asked, walk.blocked
        started = False
        budget = self.budget
        every = len(blocked)
        walk.now = now
        # With every reservation over, where a job fits depends on its ask and its
        # partition's free resources alone: the pool remembers each ask's try until a node
        # of the partition changes.
        settled = now >= self.reservations_over
        state, waiting = self.state, PENDING
        for job in jobs:
            if state[job] != waiting:
                continue  # started since the queue was last rebuilt
            if none and walk.n_blocked == every:
                break  # strict order: nothing behind a blocked head starts
            q = qos_of[job]
            if q >= 0 and limited[q]:
                if user_keyed[q]:  # the verdict of the job's last visit, if still good
                    count = charges[pair_of[job]]
                    seen = verdicts[job]
                    if seen is not None and seen[0] == count:
                        reason = seen[1]
                    else:
                        reason = limits.blocked(q, pair_of[job], account_of[job], want_of[job])
                        verdicts[job] = (count, reason)
                else:
                    reason = limits.blocked(q, pair_of[job], account_of[job], want_of[job])
                if reason is not None:
                    reasons[job] = reason
                    continue
            p = part_of[job]
            want = want_of[job]
            fits = want[1] <= part_cores[p] and want[2] <= part_gpus[p]
            if blocked[p] and (none or not (fits or budget)):
                # Behind its partition's blocked job and unable to start now (no backfill,
                # or too few free cores or GPUs there in all), with no hold to ask for.
                reasons[job] = PRIORITY
                continue
            end = now + req_of[job]
            slot = None
            if fits:
                slot = (
                    pool.fit_now(ask_of[job], p, want)
                    if settled
                    else pool.fit(pool.eligible(p, now, end), want)
                )
            if slot is not None:
                if asked and not walk.asked_nodes.isdisjoint(slot[0]):
                    self._hold(walk, now)
                if not held or respects(slot, end, held, pool.mem_known):
                    self._forget_kept(walk, now)
                    self._start(job, slot, now)
                    started = True
                    continue
            reasons[job] = PRIORITY if blocked[p] else RESOURCES
            if (easy and not blocked[p]) or (budget and len(held) + len(asked) < budget):
                asked.append((job, (req_of[job], p, want)))
                walk.asked_nodes.update(partition_set[p])
            if not blocked[p]:
                blocked[p] = True
                walk.n_blocked += 1
        return started

    def _hold(self, walk: _Walk, now: int) -> None:
        """Work out the holds asked for, in order, onto `walk.held`; `walk.asked` empties."""
        held = walk.held
        for job, hold in walk.asked:
            first = not held
            kept = self.kept
            if first and kept is not None and kept[0] == job and kept[1].start_s >= now:
                held.append(kept[1])
                continue
            found = earliest(self.pool, self.expected, self.placed, now, hold, held)
            if found is not None:
                held.append(found)
                if first:
                    self.kept = (job, found)
        walk.asked.clear()
        walk.asked_nodes.clear()

    def _forget_kept(self, walk: _Walk, now: int) -> None:
        """Before a start: keep the kept hold only if it is this pass's first hold. With the
        holds asked for not yet worked out, it is when `_hold` would reuse it for the first
        of them; otherwise that one would get a new hold, which is forgotten here instead of
        kept (kept only spares the work: worked out again, it comes out the same)."""
        kept = self.kept
        if kept is None:
            return
        if walk.held:
            first = walk.held[0] is kept[1]
        else:
            asked = walk.asked
            first = bool(asked) and asked[0][0] == kept[0] and kept[1].start_s >= now
        if not first:
            self.kept = None

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
                self.kept = None
            while self.finishing and self.finishing[0][0] == now:
                _, job = heappop(self.finishing)
                self._finish(job, now)
                freed = True
            new: list[int] = []
            while i < n and submit[i] == now:
                never = self._never(i)
                if never is None:
                    new.append(i)
                    self.reasons[i] = PRIORITY
                else:
                    self.reasons[i] = never
                i += 1
            if self.rank is None:
                self.pending.extend(new)
            elif new:
                rank = self.rank
                new.sort(key=rank.__getitem__)
                pending = self.pending
                for job in new:  # most arrive behind every job waiting (fcfs): appended
                    if not pending or rank[job] > rank[pending[-1]]:
                        pending.append(job)
                    else:
                        insort(pending, job, key=rank.__getitem__)
            if self.pending and (new or freed):
                self._pass(now, new, freed)

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
        return SiteResult(
            sim, self.site, self.demand, self.reasons, placements(self.placed), self.rule
        )


def simulate_site(
    jobs: JobTable,
    site: Site,
    policy: Policy,
    demand: SiteDemand | None = None,
    *,
    placement: PlacementRule | str | None = None,
) -> SiteResult:
    """Replay `jobs` on `site` under `policy` (the demand defaults to processors only).
    `placement` ("best-fit" or "topology") defaults to topology where the site has switches."""
    started = time.perf_counter()
    engine = SiteEngine(jobs, demand or SiteDemand.plain(jobs, site), site, policy, placement)
    # The replay makes millions of short-lived tuples and lists and no reference cycles:
    # the cycle collector would only walk them (~3% of a compiled replay's instructions).
    collecting = gc.isenabled()
    gc.disable()
    try:
        engine.run()
    finally:
        if collecting:
            gc.enable()
    return engine.result(time.perf_counter() - started)
