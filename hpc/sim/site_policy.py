"""The policy a site's own controller runs, for a twin that replays it as it is.

Slurm's sched/backfill tests every pending job in priority order (up to bf_max_job_test) and
plans each one that cannot start now at its earliest start, which later jobs may not delay:
that is conservative backfill, not EASY's one reservation. sched/builtin starts jobs in strict
priority order. The queue order is Slurm's multifactor priority where the site sets any
priority weight (priority/multifactor), else submission order (priority/basic).
"""

from __future__ import annotations

from hpc.sim.policy import BackfillMode, Policy, QueueOrder
from hpc.site.model import Site


def own_policy(site: Site) -> Policy:
    """The queue order and backfill mode `site`'s controller runs."""
    order = QueueOrder.MULTIFACTOR if site.weights.multifactor else QueueOrder.FCFS
    mode = BackfillMode.CONSERVATIVE if site.scheduling.backfills else BackfillMode.NONE
    return Policy(order, mode)
