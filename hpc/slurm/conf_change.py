"""A scheduling change as a `slurm.conf` diff: the keys that decide who starts when, as the
site has them (read by `schedsight site import` from `scontrol show config`) against the
values a recommended policy needs.

schedsight never applies it: slurm.conf is the admin's file, copied to every node and read
by `scontrol reconfigure`. Approving one records it and hands the diff over to apply.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpc.errors import SiteError
from hpc.sim.policy import BackfillMode, Policy, QueueOrder
from hpc.site.model import Site

KIND = "slurm_conf"  # the proposal kind an advice's conf change is stored under
# The slurm.conf keys a change may touch, in the order they are shown.
KEYS = (
    "SchedulerType",
    "PriorityType",
    "PriorityWeightAge",
    "PriorityWeightFairshare",
    "PriorityWeightJobSize",
    "PriorityWeightPartition",
    "PriorityWeightQOS",
    "PriorityFavorSmall",
)


def conf_values(site: Site) -> dict[str, str]:
    """The scheduling keys of slurm.conf as `site` has them."""
    w = site.weights
    multifactor = w.multifactor
    values = {
        "SchedulerType": site.scheduling.scheduler,
        "PriorityType": "priority/multifactor" if multifactor else "priority/basic",
    }
    if multifactor:
        values |= {
            "PriorityWeightAge": str(w.age),
            "PriorityWeightFairshare": str(w.fairshare),
            "PriorityWeightJobSize": str(w.job_size),
            "PriorityWeightPartition": str(w.partition),
            "PriorityWeightQOS": str(w.qos),
            "PriorityFavorSmall": "YES" if w.favor_small else "NO",
        }
    return values


def policy_values(site: Site, policy: Policy) -> dict[str, str]:
    """The scheduling keys that run `policy` on `site` (its weights for multifactor).

    Slurm orders its queue by submit time (priority/basic) or by multifactor priority, and
    its backfill (sched/backfill) plans every job it tests: conservative backfill; strict
    order is sched/builtin. Any other order or mode has no slurm.conf form (`SiteError`)."""
    if policy.order is QueueOrder.MULTIFACTOR and site.weights.multifactor:
        values = conf_values(site)
    elif policy.order in (QueueOrder.FCFS, QueueOrder.MULTIFACTOR):
        values = {"PriorityType": "priority/basic"}  # multifactor with no weight is fcfs
    else:
        raise SiteError(
            f"{policy.order.value} has no slurm.conf form: Slurm orders by submit "
            "time or by multifactor priority"
        )
    if policy.backfill is BackfillMode.EASY:
        raise SiteError(
            "EASY backfill has no slurm.conf form: sched/backfill plans every job "
            "it tests (conservative)"
        )
    none = policy.backfill is BackfillMode.NONE
    return {"SchedulerType": "sched/builtin" if none else "sched/backfill", **values}


@dataclass(frozen=True, slots=True)
class ConfChange:
    """slurm.conf's scheduling keys now (`current`) and as proposed; `source` names where
    the current values were read (a stored site and its version)."""

    current: Mapping[str, str]
    proposed: Mapping[str, str]
    source: str
    reasons: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> dict[str, tuple[str | None, str | None]]:
        keys = [k for k in KEYS if k in self.current or k in self.proposed]
        return {
            k: (self.current.get(k), self.proposed.get(k))
            for k in keys
            if self.current.get(k) != self.proposed.get(k)
        }

    def diff(self) -> str:
        """A unified diff of the scheduling lines of slurm.conf ("" when nothing changes)."""
        if not self.changed:
            return ""
        before = [f"{k}={self.current[k]}" for k in KEYS if k in self.current]
        after = [f"{k}={self.proposed[k]}" for k in KEYS if k in self.proposed]
        lines = difflib.unified_diff(
            before, after, f"slurm.conf ({self.source})", "slurm.conf (proposed)", lineterm=""
        )
        return "\n".join(lines) + "\n"

    def as_action(self) -> dict[str, Any]:
        """The stored proposal: what `dashboard.approvals` reads back with `from_action`."""
        return {
            "kind": KIND,
            "source": self.source,
            "current": dict(self.current),
            "proposed": dict(self.proposed),
            "diff": self.diff(),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_action(cls, action: Mapping[str, Any]) -> ConfChange | None:
        """The change a stored proposal holds; None for any other kind."""
        if action.get("kind") != KIND:
            return None
        return cls(
            dict(action["current"]),
            dict(action["proposed"]),
            str(action["source"]),
            tuple(action.get("reasons", ())),
        )
