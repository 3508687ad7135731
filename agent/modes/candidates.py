"""The candidates `agent advise` searches: for a one-pool machine, queue orders x backfill
modes and multifactor weights; for a stored site, what Slurm itself runs (submit order or
multifactor priority under sched/backfill or sched/builtin, weight settings, and per-account
QOS limits where the jobs carry a QOS), each a site changed by `hpc.site.changes` lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpc.objectives import Goal, Measure, Objective
from hpc.sim import MultifactorWeights, Policy, QueueOrder
from hpc.sim.policy import backfill_names
from hpc.sim.site_policy import own_policy
from hpc.site.model import Site

ORDERS = tuple(o.value for o in QueueOrder if o is not QueueOrder.MULTIFACTOR)
BACKFILLS = backfill_names()
WEIGHTS = (  # (age, fairshare, job_size): age-led, fair-share-led, small-job-led, balanced
    (1000, 100, 100),
    (100, 1000, 100),
    (100, 100, 1000),
    (1000, 1000, 1000),
)


@dataclass(frozen=True, slots=True)
class Spec:
    """A candidate before it is replayed: its name, policy and site change lines."""

    name: str
    policy: Policy
    changes: tuple[str, ...] = ()


def one_pool_specs() -> list[Spec]:
    out = [Spec(f"{o}:{b}", Policy.parse(f"{o}:{b}")) for o in ORDERS for b in BACKFILLS]
    for age, fs, size in WEIGHTS:
        w = MultifactorWeights(age=age, fairshare=fs, job_size=size)
        for b in ("easy", "conservative"):
            name = f"multifactor:{b}[age={age:g},fairshare={fs:g},size={size:g}]"
            out.append(Spec(name, Policy.parse(f"multifactor:{b}", weights=w)))
    return out


def site_specs(site: Site, goal: Goal, *, has_qos: bool) -> list[Spec]:
    """The site as it is first (the baseline), then what Slurm can be set to run."""
    own = own_policy(site)
    out = [Spec(f"as it is ({own.name})", own)]
    for name in ("fcfs:conservative", "fcfs:none"):
        if name != own.name:
            out.append(Spec(name, Policy.parse(name)))
    for age, fs, size in WEIGHTS:
        lines = (f"weight age={age}", f"weight fairshare={fs}", f"weight job_size={size}")
        for b in ("conservative", "none"):
            out.append(
                Spec(
                    f"multifactor:{b}[age={age},fairshare={fs},size={size}]",
                    Policy.parse(f"multifactor:{b}"),
                    lines,
                )
            )
    fairness = Objective.FAIRNESS in goal.objectives or any(
        c.measure in (Measure.FAIRNESS_ACCOUNTS, Measure.FAIRNESS_USERS) for c in goal.constraints
    )
    if fairness and has_qos and site.qos:
        cores = site.totals()["cores"]
        for qos in sorted(site.qos):
            for share in (2, 4):  # at most a half, a quarter of the cores per account
                line = f"qos {qos} MaxTRESPA=cpu={max(cores // share, 1)}"
                out.append(Spec(f"{own.name} + {line}", own, (line,)))
    return out
