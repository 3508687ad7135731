""" "When will my job start, and why?" for a pending job of the live cluster, in one answer.

Three estimates side by side: the start-time model trained on the cluster's imported history
(most likely window, p10-p90 band, median; hpc/predict/live.py), the twin's forward plan of
the live queue (hpc/predict/forward.py) and Slurm's own planned start. Then why, with the
model's SHAP drivers, and the other ways to ask ranked. Times are seconds since the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hpc.predict.alternatives import Alternative
from hpc.predict.features import FEATURES, display
from hpc.predict.forward import PlannedStart, forward_plan, user_ratios
from hpc.predict.live import LiveAdvice, LiveNames, LiveQueue, advise_live, live_names
from hpc.predict.predictor import Predictor
from hpc.site.model import Site
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.errors import JobNotFoundError, JobNotPendingError
from hpc.slurm.output import shown
from hpc.slurm.state import ClusterState, LiveJob
from hpc.timetext import clock_text, span_text

TOP_ALTERNATIVES = 3


@dataclass(frozen=True, slots=True)
class TrainedHistory:
    """A predictor and what it learned from: the trace's partition names by number."""

    predictor: Predictor
    partitions: Mapping[int, str]
    label: str  # e.g. "workload 3 (slurm-dev-20250101)"
    model_id: int | None = None  # the stored model (db.trained), kept beside its predictions


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    """Everything known about when pending `job` starts, asked at `now_s`."""

    job: LiveJob
    now_s: int
    plan: PlannedStart | None  # None: the plan leaves the job out (held)
    advice: LiveAdvice | None  # None: no trained model (see `model_note`)
    names: LiveNames | None
    model_note: str  # where the model's answer comes from, or why there is none

    @property
    def slurm_start_s(self) -> int | None:
        """Slurm's planned start (None until its backfill pass has planned the job)."""
        return self.job.start_s

    def as_dict(self) -> dict[str, object]:
        j, a = self.job, self.advice
        out: dict[str, object] = {
            "job_id": j.job_id,
            "user": shown(j.user),
            "partition": shown(j.partition),
            "reason": j.reason,
            "reason_text": j.reason_text,
            "asked_s": self.now_s,
            "predicted": None,
            "plan": None,
            "slurm_start_s": self.slurm_start_s,
            "why": None,
            "alternatives": [],
            "model": self.model_note,
        }
        if self.plan is not None:
            p = self.plan
            out["plan"] = {"start_s": p.start_s, "nodes": list(p.nodes), "method": p.method}
        if a is not None:
            lo, hi = a.likely_s()
            p10, p50, p90 = a.start_s()
            out["predicted"] = {
                "likely_from_s": round(lo),
                "likely_to_s": round(hi),
                "likely_chance": round(a.prediction.likely.chance, 3),
                "p10_s": round(p10),
                "p50_s": round(p50),
                "p90_s": round(p90),
            }
            out["why"] = {
                "sentence": a.explanation.sentence(),
                "drivers": [
                    {"feature": d.feature, "value": _known(d.value), "effect_s": round(d.effect_s)}
                    for d in a.explanation.attributions
                ],
            }
            out["alternatives"] = [
                self._alternative(alt) for alt in a.alternatives[:TOP_ALTERNATIVES]
            ]
        return out

    def _alternative(self, alt: Alternative) -> dict[str, object]:
        assert self.advice is not None
        epoch = self.advice.epoch_s
        return {
            "change": alt.change.describe(self._partition_names()),
            "score": round(alt.score, 3),
            "start_p50_s": round(epoch + alt.prediction.start.p50_s),
            "finish_p50_s": round(epoch + alt.finish.p50_s),
            "finish_p90_s": round(epoch + alt.finish.p90_s),
            "kill_risk": alt.kill_risk,
        }

    def _partition_names(self) -> dict[int, str]:
        return {} if self.names is None else self.names.partition_names()

    def lines(self) -> list[str]:
        """The answer as text, times as people read them (local clock)."""
        j, now = self.job, self.now_s

        def at(t: float | None) -> str:
            if t is None:
                return "none yet"
            return f"{clock_text(t, now)} (in {span_text(max(t - now, 0))})"

        out = [
            f"job {j.display_id} ({shown(j.user)}, {shown(j.partition)}, {j.cpus} cores): "
            f"pending, {j.reason_text or j.reason}"
        ]
        a = self.advice
        if a is not None:
            lo, hi = a.likely_s()
            p10, p50, p90 = a.start_s()
            chance = a.prediction.likely.chance
            out.append(
                f"  predicted start: most likely {clock_text(lo, now)}-"
                f"{clock_text(hi, now).split()[-1]} (chance {chance:.0%}); median {at(p50)}"
            )
            out.append(f"    p10-p90 {clock_text(p10, now)} .. {clock_text(p90, now)}")
        else:
            out.append(f"  predicted start: no model ({self.model_note})")
        if self.plan is not None:
            where = f" on {','.join(self.plan.nodes)}" if self.plan.nodes else ""
            out.append(f"  forward plan:    {at(self.plan.start_s)}{where} [{self.plan.method}]")
        out.append(f"  Slurm's plan:    {at(self.slurm_start_s)}")
        if a is not None:
            out.append(f"  why: {a.explanation.sentence()}")
            drivers = [_driver(d.feature, d.value, d.effect_s) for d in a.explanation.attributions]
            out.append("    drivers: " + "; ".join(drivers[:4]))
            out.append("  alternatives (best first):")
            for alt in a.alternatives[:TOP_ALTERNATIVES]:
                start = a.epoch_s + alt.prediction.start.p50_s
                finish = a.epoch_s + alt.finish.p50_s
                change = alt.change.describe(self._partition_names())
                out.append(
                    f"    {change:<26} starts {clock_text(start, now)}"
                    f", ends {clock_text(finish, now)}"
                    + (" (may hit its limit)" if alt.kill_risk else "")
                )
            out.append(f"  (model: {self.model_note})")
        return out


def _known(value: float) -> float | None:
    """A feature value for JSON: None where it is unknown (NaN is not JSON)."""
    return None if math.isnan(value) else value


def _driver(feature: str, value: float, effect_s: float) -> str:
    what = FEATURES[feature].format(value=display(feature, value))
    return f"{what} {'+' if effect_s >= 0 else '-'}{span_text(effect_s)}"


def find_pending(state: ClusterState, job_id: int) -> LiveJob:
    """The pending job `job_id` of the snapshot (array tasks by their own ids)."""
    job = next((j for j in state.jobs if j.job_id == job_id), None)
    if job is None:
        raise JobNotFoundError(
            f"job {job_id} is not in the queue of {state.cluster}: check the id (`squeue`)"
        )
    if not job.pending:
        raise JobNotPendingError(
            f"job {job_id} is {job.state.lower()}, not pending: only a pending job has a "
            f"start to predict"
        )
    return job


def answer_live(
    state: ClusterState,
    job_id: int,
    records: Sequence[AccountingRecord],
    now_s: int,
    *,
    site: Site | None = None,
    trained: TrainedHistory | None = None,
    model_note: str = "",
) -> LiveAnswer:
    """The answer for pending job `job_id`; `records`: recent accounting (the hybrid
    durations and the users' numbers); `model_note` says why `trained` is None."""
    job = find_pending(state, job_id)
    ratios = user_ratios(records)
    plan = forward_plan(state, ratios, now_s, site)
    if trained is None:
        return LiveAnswer(job, now_s, plan.get(job_id), None, None, model_note)
    p = trained.predictor
    names = live_names(p.history, trained.partitions, records)
    advice = advise_live(p, LiveQueue(state, plan, ratios, names, now_s), job)
    return LiveAnswer(job, now_s, plan.get(job_id), advice, names, trained.label)
