"""Which pending job goes first on a site: partition PriorityTier, then the queue order.

fcfs and sjf order by submit time and by requested time. multifactor is Slurm's
priority/multifactor with the site's weights (`PriorityWeights`):

    priority = age * min(wait / PriorityMaxAge, 1)
             + fairshare * 2^(-(usage_u / total usage) / share_u)
             + job_size * cores / site cores   (1 - that with PriorityFavorSmall)
             + partition * PriorityJobFactor / the largest one
             + qos * QOS priority / the largest one
             + sum over TRES of weight * amount / site total

Usage is charged per user (core-seconds) when a job ends and decays with
PriorityDecayHalfLife; it starts from the usage sshare reported when the site was read
(`hpc.sim.site_usage`), else from zero. A user's share is its account's share of root
(sshare's NormShares where read for every account, else from the associations' shares;
equal where none are known) split equally among the account's users seen so far, as Slurm's
classic fair-share does without user-level shares. Ties go to the earlier submit, then to
the lower job index.

fcfs and sjf (and multifactor with no weight set) never change a job's place: `static_rank`
ranks every job once, so the engine keeps its queue sorted as jobs arrive. Multifactor
priorities move with age and usage; `order` recomputes them at each pass.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from hpc.model import JobTable
from hpc.sim.policy import QueueOrder
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_usage import normalised_shares, starting_usage
from hpc.site.model import Site


class SitePriority:
    def __init__(self, jobs: JobTable, demand: SiteDemand, site: Site, order: QueueOrder) -> None:
        self.order_kind = order
        self.weights = site.weights
        self.submit = jobs.submit_s.astype(np.float64)
        self.req = jobs.req_time_s.astype(np.float64)
        self.user = jobs.user
        self.account = demand.account
        totals = site.totals()
        cores = max(totals["cores"], 1)
        size = jobs.procs.astype(np.float64) / cores
        self.size = 1.0 - size if self.weights.favor_small else size
        factors = [p.priority_job_factor for p in site.partitions]
        self.partition = np.array(factors, dtype=np.float64)[demand.partition] / max(
            max(factors), 1
        )
        qos_prio = [site.qos[q].priority if q in site.qos else 0 for q in demand.qos_names]
        top = max([*qos_prio, 1])
        lookup = np.array([*qos_prio, 0], dtype=np.float64) / top  # index -1: no QOS
        self.qos = lookup[demand.qos]
        tres = np.zeros(len(jobs))
        for kind, weight in self.weights.tres.items():
            amount = {"cpu": jobs.procs, "gres/gpu": demand.gpus, "mem": demand.mem_mb}.get(kind)
            total = {"cpu": totals["cores"], "gres/gpu": totals["gpus"], "mem": totals["mem_mb"]}
            if amount is not None and total.get(kind):
                tres += weight * amount.astype(np.float64) / total[kind]
        self.tres = tres
        account_shares = {a.account: a.shares for a in site.associations if a.user is None}
        names = demand.accounts
        raw = np.array([account_shares.get(names[a], 1) for a in range(len(names))], dtype=float)
        self.account_share = raw / raw.sum() if raw.sum() else raw
        norm = normalised_shares(site, names)
        if norm is not None:  # Slurm's own, from sshare
            self.account_share = norm
        self.users_of: dict[int, set[int]] = defaultdict(set)
        start = starting_usage(site, jobs.user, demand.account, names, demand.users)
        self.usage: dict[int, float] = defaultdict(float, start.per_user)
        self.others = start.others  # usage of users outside the workload: in the total
        self.decayed_at = float(jobs.submit_s[0]) if len(jobs) else 0.0

    def charge(self, job: int, cores: int, seconds: int) -> None:
        """A job ended after `seconds` on `cores`: its user's usage grows."""
        self.usage[int(self.user[job])] += float(cores) * seconds

    def _decay(self, now: int) -> None:
        dt = now - self.decayed_at
        if dt > 0 and (self.usage or self.others):
            factor = 0.5 ** (dt / max(self.weights.decay_half_life_s, 1))
            for user in self.usage:
                self.usage[user] *= factor
            self.others *= factor
        self.decayed_at = now

    def _fairshare(self, jobs: np.ndarray) -> np.ndarray:
        for j in jobs.tolist():
            self.users_of[int(self.account[j])].add(int(self.user[j]))
        total = sum(self.usage.values()) + self.others
        if total <= 0:
            return np.ones(len(jobs))
        out = np.empty(len(jobs))
        for k, j in enumerate(jobs.tolist()):
            account, user = int(self.account[j]), int(self.user[j])
            share = self.account_share[account] / max(len(self.users_of[account]), 1)
            out[k] = 2.0 ** (-(self.usage.get(user, 0.0) / total) / max(share, 1e-12))
        return out

    @property
    def dynamic(self) -> bool:
        """Whether priorities change while jobs wait (multifactor with a weight set)."""
        return self.order_kind is QueueOrder.MULTIFACTOR and self.weights.multifactor

    def static_rank(self, tier: list[int]) -> list[int]:
        """Each job's place in the queue order of every job (only when not `dynamic`)."""
        jobs = np.arange(len(self.submit), dtype=np.int64)
        key = self.req if self.order_kind is QueueOrder.SJF else self.submit
        tiers = -np.array(tier, dtype=np.float64)
        rank = np.empty(len(jobs), dtype=np.int64)
        rank[np.lexsort((jobs, self.submit, key, tiers))] = jobs
        out: list[int] = rank.tolist()
        return out

    def order(self, pending: list[int], now: int, tier: list[int]) -> list[int]:
        """The pending jobs, first to go first."""
        if not pending:
            return []
        jobs = np.array(pending, dtype=np.int64)
        tiers = -np.array([tier[j] for j in pending], dtype=np.float64)
        if self.order_kind is QueueOrder.SJF:
            key = self.req[jobs]
        elif self.order_kind is QueueOrder.MULTIFACTOR and self.weights.multifactor:
            self._decay(now)
            w = self.weights
            age = np.minimum((now - self.submit[jobs]) / max(w.max_age_s, 1), 1.0)
            prio = (w.age * age + w.fairshare * self._fairshare(jobs) + w.job_size * self.size[jobs]
                    + w.partition * self.partition[jobs] + w.qos * self.qos[jobs]
                    + self.tres[jobs])  # fmt: skip
            key = -np.floor(prio)  # Slurm's priorities are integers
        else:
            key = self.submit[jobs]
        ranked = np.lexsort((jobs, self.submit[jobs], key, tiers))
        return [int(j) for j in jobs[ranked]]
