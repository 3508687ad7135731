"""The rationale of dispatch decisions: the simulated figures each rests on, and the model's words.

The model gets the figures of a batch of decisions (the chosen option's look-ahead and the
next-best option's) and writes a sentence or two about them. The guard checks that every
number it quotes is one of those figures (`Guard.check_rationale`); a rationale that quotes
a wrong number is replaced by a deterministic template sentence, and the mismatch is kept in
the decision record (`verdict["rationale"]`). So is one that quotes no number at all: a
rationale must be grounded in the figures. Job names never reach this prompt.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from agent.errors import LLMError
from agent.guard import Guard, Verdict
from agent.llm.client import LLMClient
from agent.quantities import JOB, Figure, Kind, quantities
from agent.records import DecisionRecord

SYSTEM = (
    "You explain an HPC batch dispatcher's decisions to a cluster admin. Each decision was "
    "simulated to the end of the batch (the look-ahead). In one or two short sentences, say "
    "why the chosen options are better than the next best ones. Quote only numbers given "
    'here, with their units. Answer JSON {"rationale": "..."}.'
)
MAX_CHARS = 320
# What each look-ahead metric is called in words, its metric family and unit.
METRICS: dict[str, tuple[str, str, Kind]] = {
    "mean_wait": ("mean wait", "wait", Kind.TIME),
    "weighted_wait": ("weighted wait", "wait", Kind.TIME),
    "makespan": ("makespan", "makespan", Kind.TIME),
    "mean_bsld": ("mean slowdown", "slowdown", Kind.PLAIN),
    "jain": ("fairness", "fairness", Kind.PLAIN),
}


class Rationale(BaseModel):
    """The model's words for a batch of decisions."""

    rationale: str


@dataclass(frozen=True, slots=True)
class Grounds:
    """What one decision rests on: the chosen option and the next-best one, with look-aheads."""

    now_s: int  # trace seconds
    chosen: str  # "start job 17" or "wait"
    metrics: Mapping[str, float]
    plan: str  # where the chosen look-ahead's plan came from ("rollout:sjf", ...)
    job_id: int | None = None
    nodes: int | None = None
    run_s: int | None = None
    waited_s: int | None = None  # how long the started job waited for this start
    alternative: str | None = None  # the next-best option (None: nothing else to do)
    alt_metrics: Mapping[str, float] | None = None
    alt_job_id: int | None = None  # the job the next-best option starts

    def figures(self) -> list[Figure]:
        """Every number a rationale of this decision may quote."""
        out = [Figure("time of the decision", self.now_s, Kind.TIME)]
        for job in (self.job_id, self.alt_job_id):
            if job is not None:
                out.append(Figure("job id", job, Kind.PLAIN, JOB))
        if self.nodes is not None:
            out.append(Figure("nodes of the job", self.nodes, Kind.COUNT))
        if self.run_s is not None:
            out.append(Figure("run time of the job", self.run_s, Kind.TIME))
        if self.waited_s is not None:
            out.append(Figure("wait of the job", self.waited_s, Kind.TIME, "wait"))
        for key, (words, family, kind) in METRICS.items():
            if key not in self.metrics:
                continue
            value = self.metrics[key]
            out.append(Figure(f"{words} of {self.chosen}", value, kind, family))
            if self.alt_metrics is None or key not in self.alt_metrics:
                continue
            other = self.alt_metrics[key]
            out.append(Figure(f"{words} of {self.alternative}", other, kind, family))
            out.append(Figure(f"{words} difference", abs(other - value), kind, family))
            if other:
                change = 100 * abs(other - value) / abs(other)
                out.append(Figure(f"{words} change", change, Kind.PERCENT, family))
            if other and value:  # "2.5 times the wait", either way round
                for ratio in (other / value, value / other):
                    out.append(Figure(f"{words} ratio", ratio, Kind.RATIO, family))
        return out

    def facts(self, objective: str) -> str:
        """The decision in one line of figures (the prompt's and the template's)."""
        what = self.chosen
        if self.job_id is not None:
            what += f" ({self.nodes} nodes, runs {self.run_s:,} s, waited {self.waited_s:,} s)"
        line = f"t={self.now_s:,} s: {what}: {_metrics(self.metrics, objective)}"
        if self.alternative is not None and self.alt_metrics is not None:
            line += f"; next best, {self.alternative}: {_metrics(self.alt_metrics, objective)}"
        return line

    def template(self, objective: str) -> str:
        """The deterministic rationale: the figures themselves, in a sentence."""
        return f"{self.facts(objective)} (look-ahead plan {self.plan})."


@dataclass(slots=True)
class RationaleStats:
    """What writing the rationales cost and how many of the model's were kept."""

    usage: tuple[int, int, int] = (0, 0, 0)  # calls, prompt and completion tokens
    wall_s: float = 0.0
    by_model: int = 0  # decisions whose rationale is the model's (checked)
    replaced: int = 0  # decisions whose model rationale quoted a wrong number
    failed: int = 0  # calls with no usable answer
    mismatches: list[str] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return self.usage[0]


def apply_templates(
    records: Sequence[DecisionRecord], grounds: Sequence[Grounds], objective: str
) -> None:
    """Every record's rationale as its template sentence (no model)."""
    for record, g in zip(records, grounds, strict=True):
        _set(record, g.template(objective), {"by": "template"})


def write_rationales(
    records: Sequence[DecisionRecord],
    grounds: Sequence[Grounds],
    llm: LLMClient,
    *,
    objective: str,
    goal: str,
    batch_size: int,
    max_calls: int,
    guard: Guard,
) -> RationaleStats:
    """The model's rationale for the decisions that had an alternative, checked by `guard`.

    At most `max_calls` batches of `batch_size` decisions, those whose choice mattered most
    (the largest look-ahead gap to the next-best option); every other decision keeps its
    template sentence.
    """
    apply_templates(records, grounds, objective)
    stats = RationaleStats()
    t0, before = time.perf_counter(), llm.usage.snapshot()
    choices = [k for k, g in enumerate(grounds) if g.alt_metrics is not None]
    choices.sort(key=lambda k: -_gap(grounds[k], objective))
    chosen = sorted(choices[: batch_size * max_calls])
    for at in range(0, len(chosen), batch_size):
        batch = chosen[at : at + batch_size]
        try:
            text = _ask(llm, [grounds[k] for k in batch], objective, goal)
        except LLMError as exc:
            stats.failed += 1
            for k in batch:
                _set(records[k], grounds[k].template(objective), {
                    "by": "template", "model_error": str(exc),
                })  # fmt: skip
            continue
        figures = [f for k in batch for f in grounds[k].figures()]
        verdict = guard.check_rationale(text, figures)
        if verdict.accepted and not quantities(text):  # words with nothing to check
            verdict = Verdict(False, ("it quotes none of the simulated figures",))
        for k in batch:
            if verdict.accepted:
                stats.by_model += 1
                _set(records[k], text, {"by": "llm", "batch": [int(b) for b in batch]})
            else:
                stats.replaced += 1
                _set(records[k], grounds[k].template(objective), {
                    "by": "template", "model_text": text, "mismatches": list(verdict.reasons),
                })  # fmt: skip
        stats.mismatches += list(verdict.reasons)
    stats.wall_s = time.perf_counter() - t0
    after = llm.usage.snapshot()
    stats.usage = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
    return stats


def _ask(llm: LLMClient, grounds: list[Grounds], objective: str, goal: str) -> str:
    lines = "\n".join(f"- {g.facts(objective)}" for g in grounds)
    user = f"Goal: {goal}.\nDecisions:\n{lines}"
    schema = {
        "type": "object",
        "properties": {"rationale": {"type": "string", "minLength": 20, "maxLength": MAX_CHARS}},
        "required": ["rationale"],
        "additionalProperties": False,
    }
    reply = llm.structured(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        Rationale,
        name="rationale",
        max_tokens=MAX_CHARS // 3,
        json_schema=schema,
    )
    return reply.value.rationale.strip()


def _set(record: DecisionRecord, text: str, how: dict[str, object]) -> None:
    refused = record.verdict.get("refused") or []
    note = "; the model's pick was refused: " + "; ".join(refused) if refused else ""
    record.rationale = (text.rstrip(".") if note else text) + note
    record.verdict["rationale"] = how


def _gap(g: Grounds, objective: str) -> float:
    assert g.alt_metrics is not None
    return abs(g.alt_metrics.get(objective, 0.0) - g.metrics.get(objective, 0.0))


def _metrics(m: Mapping[str, float], objective: str) -> str:
    """The objective first, then makespan (a look-ahead's figures, rounded as quoted)."""
    keys = list(dict.fromkeys((objective, "makespan")))
    parts = []
    for key in keys:
        words, _, kind = METRICS[key]
        value = m[key]
        parts.append(f"{words} {value:,.0f} s" if kind is Kind.TIME else f"{words} {value:.2f}")
    return ", ".join(parts)
