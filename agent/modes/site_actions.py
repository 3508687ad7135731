"""Site advice as concrete, reviewable Slurm actions, each stored as a proposed decision for
an admin to approve (dashboard Decisions page, `schedsight agent approve`):

- the recommended queue order, backfill and priority weights as a `slurm.conf` diff against
  the stored site's values (never applied by schedsight: approving records it, and the diff
  is handed over);
- its QOS change lines as `sacctmgr modify qos` (sent on approval, within the remit);
- a nice for each named pending job in a wait constraint's scope that has already waited past
  its bound, enough to put it first in its partition (sent on approval, within the remit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.modes.advise import AdviseResult
from agent.records import DecisionRecord
from hpc.errors import SiteError
from hpc.objectives import Constraint, Goal
from hpc.site.changes import apply_changes, parse_change
from hpc.site.model import Site
from hpc.slurm.conf_change import ConfChange, conf_values, policy_values
from hpc.slurm.job_action import ActionKind
from hpc.slurm.qos_change import QosChange
from hpc.slurm.remit import Remit
from hpc.slurm.state import LiveJob
from hpc.timetext import span_text

MAX_NICE = 10000  # Slurm's bound on |nice|


@dataclass(frozen=True, slots=True)
class SiteAction:
    """One action: a line for people, the stored proposal, and why."""

    what: str
    action: dict[str, Any]
    why: str


def site_actions(
    result: AdviseResult,
    site: Site,
    source: str,
    pending: Sequence[LiveJob] = (),
    *,
    remit: Remit,
    now_s: int,
) -> tuple[list[SiteAction], list[str]]:
    """The actions that carry out `result`'s recommendation on `site`, and notes (what has
    no Slurm form, which jobs the remit leaves out)."""
    pick = result.recommended
    actions: list[SiteAction] = []
    notes: list[str] = []
    changed = apply_changes(site, [parse_change(line) for line in pick.spec.changes])
    why = result.trade_offs.get(pick.name, f"{pick.name} is the site as it is")
    try:
        proposed = policy_values(changed, pick.spec.policy)
    except SiteError as exc:
        notes.append(f"no slurm.conf change: {exc}")
    else:
        conf = ConfChange(conf_values(site), proposed, source, (why,))
        if conf.changed:
            keys = ", ".join(
                f"{k} {a or '(unset)'} -> {b or '(unset)'}" for k, (a, b) in conf.changed.items()
            )
            actions.append(
                SiteAction(f"slurm.conf: {keys}", conf.as_action(), f"to run {pick.name}: {why}")
            )
    for line in pick.spec.changes:
        if line.split()[0].lower() == "qos":
            change = QosChange.from_change_line(line)
            actions.append(
                SiteAction(change.describe(), change.as_action(), f"simulated as `{line}`: {why}")
            )
    jobs, skipped = nice_actions(pending, result.goal, now_s, remit)
    actions += jobs
    if skipped:
        notes.append(
            f"{skipped} pending jobs past a wait bound are outside the remit: no "
            "action proposed for them"
        )
    return actions, notes


def nice_actions(
    pending: Sequence[LiveJob], goal: Goal, now_s: int, remit: Remit
) -> tuple[list[SiteAction], int]:
    """A nice for each pending job (not held) in a wait constraint's scope that has waited
    longer than its bound already and is not first in its partition: enough to rank it above
    every other pending job there. Also the number of such jobs the remit leaves out."""
    waits = [c for c in goal.constraints if c.measure.is_wait]
    out: list[SiteAction] = []
    skipped = 0
    queued = [j for j in pending if j.pending and not j.reason.startswith("JobHeld")]
    for job in queued:
        over = next((c for c in waits if _in_scope(job, c) and _waited(job, now_s) > c.bound), None)
        if over is None:
            continue
        if not remit.covers(job.account, job.partition):
            skipped += 1
            continue
        others = [j.priority for j in queued if j.partition == job.partition and j is not job]
        if not others or job.priority > max(others):
            continue  # already first in its partition
        top = max(others)
        nice = max(job.nice - (top - job.priority + 1), -MAX_NICE)
        waited = span_text(_waited(job, now_s))
        why = (
            f"job {job.job_id} ({job.cpus} cores, partition {job.partition}) has waited "
            f"{waited}, past the goal's '{over.describe()}'; nice {nice} ranks it above "
            f"the highest pending priority of its partition ({top})"
        )
        action = {
            "kind": ActionKind.NICE.value,
            "job_id": job.job_id,
            "value": nice,
            "job_name": job.name,
            "account": job.account,
        }
        out.append(SiteAction(f"scontrol update jobid={job.job_id} nice={nice}", action, why))
    return out, skipped


def _in_scope(job: LiveJob, c: Constraint) -> bool:
    if c.under_cores is not None and job.cpus >= c.under_cores:
        return False
    return c.partition is None or c.partition in job.partition.split(",")


def _waited(job: LiveJob, now_s: int) -> float:
    return float(now_s - (job.eligible_s or job.submit_s))


def action_records(
    actions: Sequence[SiteAction], result: AdviseResult, text: str
) -> list[DecisionRecord]:
    """One proposed decision per action, so that each is approved (or not) on its own."""
    held = result.record.verdict
    return [
        DecisionRecord(
            question=f"advise: {text or result.goal.describe()} (action {k} of {len(actions)})",
            action={**a.action, "summary": a.what},
            rationale=a.why,
            objectives={
                "goal": result.goal.describe(),
                "recommended": result.recommended.name,
                "held_back": result.held_back,
            },
            verdict={
                "verdict": held["verdict"],
                "reasons": held["reasons"],
                "recomputed": held["recomputed"],
            },
            chosen_by=result.chosen_by,
        )
        for k, a in enumerate(actions, start=1)
    ]
