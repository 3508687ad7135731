"""The Explain page on the live queue: a pending job's answer (`dashboard.live.answer`: the
persisted start-time model, the twin's forward plan and Slurm's own plan) as the page shows
it, times in the local clock and as spans people read. Pure logic, no Streamlit.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpc.predict.features import FEATURES, display
from hpc.predict.live_answer import TOP_ALTERNATIVES, LiveAnswer
from hpc.predict.plots import waterfall_png
from hpc.slurm.output import shown
from hpc.slurm.state import ClusterState
from hpc.timetext import clock_text, span_text


def pending_choices(state: ClusterState, now_s: int) -> dict[int, str]:
    """The queue's pending jobs, oldest first, with the words a picker shows."""
    jobs = sorted(state.pending, key=lambda j: (j.submit_s, j.job_id))
    return {
        j.job_id: f"{j.display_id} · {shown(j.user)} · {shown(j.partition)} · {j.cpus} cores · "
        f"waiting {span_text(max(0, now_s - j.submit_s))}"
        for j in jobs
    }


@dataclass(frozen=True, slots=True)
class ShownAnswer:
    """One pending job's answer in the page's words."""

    headline: str
    likely: str | None  # the most likely window with its chance (None: no model)
    starts: list[dict[str, str]]  # one row per estimate: when, and how long from now
    sentence: str | None
    drivers: list[dict[str, str]]
    alternatives: list[dict[str, Any]]
    waterfall_png: bytes | None
    model: str  # where the model's answer comes from, or why there is none


def shown_answer(answer: LiveAnswer) -> ShownAnswer:
    j, now, a = answer.job, answer.now_s, answer.advice
    headline = (
        f"Job {j.display_id} ({shown(j.user)}, {shown(j.partition)}, {j.cpus} cores) is "
        f"pending: {shown(j.reason_text or j.reason)}"
    )
    plan = answer.plan
    starts = []
    if a is not None:
        p10, p50, p90 = a.start_s()
        starts += [_start("schedsight model: median", p50, now),
                   _start("schedsight model: p10 (early)", p10, now),
                   _start("schedsight model: p90 (late)", p90, now)]  # fmt: skip
    where = f" on {','.join(plan.nodes)}" if plan is not None and plan.nodes else ""
    planned = None if plan is None else plan.start_s
    starts.append(_start(f"forward plan of the queue{where}", planned, now))
    starts.append(_start("Slurm's own plan", answer.slurm_start_s, now))
    if a is None:
        return ShownAnswer(headline, None, starts, None, [], [], None, answer.model_note)
    lo, hi = a.likely_s()
    likely = (
        f"Most likely start: {clock_text(lo, now)} – {_same_day(lo, hi, now)} (in "
        f"{span_text(max(lo - now, 0))} to {span_text(max(hi - now, 0))}; chance "
        f"{a.prediction.likely.chance:.0%})"
    )
    drivers = [
        {"driver": FEATURES[d.feature].format(value=display(d.feature, d.value)),
         "effect on the wait": ("+" if d.effect_s >= 0 else "-") + span_text(d.effect_s)}
        for d in a.explanation.attributions
    ]  # fmt: skip
    names = {} if answer.names is None else answer.names.partition_names()
    alternatives = [
        {"change": alt.change.describe(names),
         "starts": clock_text(a.epoch_s + alt.prediction.start.p50_s, now),
         "ends": clock_text(a.epoch_s + alt.finish.p50_s, now),
         "may hit its time limit": alt.kill_risk, "score": round(alt.score, 3)}
        for alt in a.alternatives[:TOP_ALTERNATIVES]
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = waterfall_png(a.explanation, Path(tmp) / "w.png", title=f"job {j.display_id}")
        picture = path.read_bytes()
    return ShownAnswer(headline, likely, starts, a.explanation.sentence(), drivers,
                       alternatives, picture, answer.model_note)  # fmt: skip


def _start(estimate: str, at_s: float | None, now_s: int) -> dict[str, str]:
    if not at_s:
        return {"estimate": estimate, "start": "not planned", "from now": "-"}
    return {"estimate": estimate, "start": clock_text(at_s, now_s),
            "from now": span_text(max(at_s - now_s, 0))}  # fmt: skip


def _same_day(lo: float, hi: float, now_s: int) -> str:
    """`hi` in the clock, its day left out when it is `lo`'s."""
    start, end = clock_text(lo, now_s), clock_text(hi, now_s)
    return end.rsplit(" ", 1)[-1] if start.rsplit(" ", 1)[0] == end.rsplit(" ", 1)[0] else end
