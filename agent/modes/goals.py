"""An admin's goals in plain words read into an `hpc.objectives.Goal`, shown to be confirmed.

As for what-if questions (`agent.modes.reading`): a deterministic rule reader reads each
clause ("keep utilization above 80%", "no job under 16 cores waits more than an hour at
p95", "be fair across accounts"); the model fills the same typed form under a JSON schema;
where the two differ, both are shown and the rules' reading is proposed. A bound without a
number ("be fair") is an objective, never a made-up constraint. Flags written by
`as_flags` (`--weight`, `--order`, `--constraint`) correct any part of a reading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from agent.errors import LLMError, UnreadableQuestion
from agent.llm.client import LLMClient
from agent.llm.prompts import quote
from agent.modes.reading import normalize
from hpc.errors import GoalError
from hpc.objectives import Constraint, Goal, Measure, Objective

SMALL_CORES = 16  # "small jobs" with no size named: jobs under this many cores
_UNIT_S = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "m": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_SPAN = r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b"
_CORES = (
    r"(?:under|below|fewer than|less than|smaller than|<)\s*(?P<c>\d+)\s*"
    r"(?:cores?|cpus?|procs?|processors?)"
)
_SPLIT = re.compile(r"[;,.]\s|[;,]|\s+and\s+|\s+but\s+|\s+while\s+")
SYSTEM = (
    "Read an HPC admin's scheduling goals into JSON. objectives: what to improve, most "
    "important first (mean_wait, mean_bsld, utilization, fairness, makespan). lexicographic: "
    "true when the admin ranks them strictly. constraints: hard bounds with numbers only; "
    "waits in seconds, utilization and fairness as fractions 0..1."
)


MeasureName = Literal[
    "p95_wait",
    "max_wait",
    "mean_wait",
    "mean_bsld",
    "utilization",
    "fairness_accounts",
    "fairness_users",
]


class ConstraintForm(BaseModel):
    measure: MeasureName
    bound: float = Field(ge=0)
    under_cores: int | None = Field(default=None, ge=1)
    partition: str | None = None


class GoalForm(BaseModel):
    """The typed form both readers fill (the model under its JSON schema)."""

    objectives: list[Literal["mean_wait", "mean_bsld", "utilization", "fairness", "makespan"]] = (
        Field(default_factory=list, max_length=5)
    )
    lexicographic: bool = False
    constraints: list[ConstraintForm] = Field(default_factory=list, max_length=6)


@dataclass(slots=True)
class GoalReading:
    """A goal as read, by whom, and what the user should see before confirming it."""

    goal: Goal
    read_by: str  # "rules", "llm", "llm+rules" (both agree), "rules (the model differs)"
    notes: list[str] = field(default_factory=list)


def read_goal(text: str, llm: LLMClient | None, partitions: Sequence[str] = ()) -> GoalReading:
    """`text` read by the rules and (given `llm`) the model; the rules' reading is proposed
    where they read anything, and the model's differing reading is shown beside it."""
    notes: list[str] = []
    rules = rule_goal(text, partitions, notes)
    model: GoalForm | None = None
    if llm is not None:
        try:
            model = llm.structured(
                [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": quote(text, 400)},
                ],
                GoalForm,
                name="goal",
                max_tokens=160,
            ).value
        except LLMError as exc:
            notes.append(f"the model could not read the goal ({exc}); read by rules")
    if rules.objectives or rules.constraints:
        if model is None:
            return GoalReading(to_goal(rules), "rules", notes)
        if _same(model, rules):
            return GoalReading(to_goal(rules), "llm+rules", notes)
        notes.append(f"the model read it differently: {describe(_safe_goal(model, notes))}")
        return GoalReading(to_goal(rules), "rules (the model differs)", notes)
    if model is not None and (model.objectives or model.constraints):
        notes.append("the rules read nothing here: this is the model's reading alone, check it")
        return GoalReading(to_goal(model), "llm", notes)
    raise UnreadableQuestion(
        f"not a goal I can read: {text!r} (e.g. 'keep utilization above 80%; no job under 16 "
        "cores waits more than an hour at p95; be fair across accounts')"
    )


def rule_goal(
    text: str, partitions: Sequence[str] = (), notes: list[str] | None = None
) -> GoalForm:
    """What the goal states outright, clause by clause."""
    notes = notes if notes is not None else []
    form = GoalForm()
    q = normalize(text).replace("an hour", "1 hour").replace("a day", "1 day")
    q = re.sub(r"\ba minute\b", "1 minute", q)
    for clause in (c.strip() for c in _SPLIT.split(q) if c.strip()):
        _read_clause(clause, form, partitions, notes)
    if re.search(r"\bfirst\b.*\bthen\b|\babove all\b|\bin (?:that|this) order\b", q):
        form.lexicographic = len(form.objectives) > 1
    return form


def _read_clause(clause: str, form: GoalForm, partitions: Sequence[str], notes: list[str]) -> None:
    part = _partition(clause, partitions, notes)
    if re.search(r"(?:utili[sz](?:ation|ed)|busy)", clause):
        pct = re.search(r"(\d+(?:\.\d+)?)\s*(?:%|percent)", clause)
        if pct:
            form.constraints.append(
                ConstraintForm(measure="utilization", bound=float(pct[1]) / 100, partition=part)
            )
        else:
            _objective(form, "utilization")
        return
    if re.search(r"\bfair(?:ness|ly|er)?\b|\bjain\b", clause):
        users = re.search(r"\busers?\b", clause) and not re.search(r"\baccounts?\b", clause)
        bound = re.search(r"(?:>=|at least|above|over|of)\s*(0?\.\d+|1\.0|1)\b", clause)
        if bound:
            measure: MeasureName = "fairness_users" if users else "fairness_accounts"
            form.constraints.append(ConstraintForm(measure=measure, bound=float(bound[1])))
        else:
            _objective(form, "fairness")
        return
    if "wait" in clause:
        if wait := _wait(clause, part, notes):
            form.constraints.append(wait)
        elif re.search(r"short|less|lower|minimi[sz]e|reduce|cut|fast", clause):
            _objective(form, "mean_wait")
        return
    if "slowdown" in clause:
        bound = re.search(r"(?:under|below|at most|<=|less than)\s*(\d+(?:\.\d+)?)\b", clause)
        if bound:
            form.constraints.append(ConstraintForm(measure="mean_bsld", bound=float(bound[1])))
        else:
            _objective(form, "mean_bsld")
        return
    if re.search(r"\bmakespan\b|\bfinish\b.*\b(?:sooner|earlier|faster)\b", clause):
        _objective(form, "makespan")


def _wait(clause: str, part: str | None, notes: list[str]) -> ConstraintForm | None:
    """A bound on waits: "no job under 16 cores waits more than an hour at p95"."""
    span = re.search(rf"(?:more|longer) than\s+{_SPAN}", clause) or re.search(
        rf"(?:under|below|at most|<=|less than|within|no more than)\s+{_SPAN}", clause
    )
    if span is None:
        return None
    seconds = float(span["n"]) * _UNIT_S[re.sub(r"s$", "", span["u"]) or "s"]
    measure: MeasureName = "max_wait"
    if re.search(r"\bp95\b|95(?:th)?\s*(?:%|percent|percentile)|\bp 95\b", clause):
        measure = "p95_wait"
    elif re.search(r"\b(?:on average|average|mean)\b", clause):
        measure = "mean_wait"
    cores = re.search(_CORES, clause)
    under = int(cores["c"]) if cores else None
    if under is None and re.search(r"\bsmall(?:er)? jobs?\b", clause):
        under = SMALL_CORES
        notes.append(
            f"'small jobs' read as jobs under {SMALL_CORES} cores (correct with --constraint)"
        )
    return ConstraintForm(measure=measure, bound=seconds, under_cores=under, partition=part)


def _partition(clause: str, partitions: Sequence[str], notes: list[str]) -> str | None:
    m = re.search(r"\bpartition\s+([\w.-]+)|\b([\w.-]+)\s+(?:partition|nodes|queue)\b", clause)
    if m is None:
        return None
    name = m[1] or m[2]
    if name in partitions:
        return name
    if m[1] or name in ("gpu", "cpu", "bigmem", "debug"):
        notes.append(f"{name!r} is not a partition here: read as the whole machine")
    return None


def _objective(form: GoalForm, name: str) -> None:
    if name not in form.objectives:
        form.objectives.append(name)  # type: ignore[arg-type]


def _same(a: GoalForm, b: GoalForm) -> bool:
    return _key(a) == _key(b)


def _key(form: GoalForm) -> tuple[list[str], list[str]]:
    return sorted(form.objectives), sorted(c.model_dump_json() for c in form.constraints)


def _safe_goal(form: GoalForm, notes: list[str]) -> Goal | str:
    try:
        return to_goal(form)
    except GoalError as exc:
        return f"(not a usable goal: {exc})"


def to_goal(form: GoalForm) -> Goal:
    """The typed goal of a reading; no objective named: mean wait."""
    objectives = tuple(Objective(o) for o in dict.fromkeys(form.objectives)) or (
        Objective.MEAN_WAIT,
    )
    constraints = tuple(
        Constraint(Measure(c.measure), c.bound, c.under_cores, c.partition)
        for c in form.constraints
    )
    if form.lexicographic and len(objectives) > 1:
        return Goal(order=objectives, constraints=constraints)
    return Goal(weights=dict.fromkeys(objectives, 1.0), constraints=constraints)


def describe(goal: Goal | str) -> str:
    return goal if isinstance(goal, str) else goal.describe()


# ------------------------------------------------------------ corrections by flag
_FLAG = re.compile(
    r"^\s*(?P<m>[a-z0-9_]+)(?P<scope>(?:\s+(?:cores<\d+|partition=[\w.-]+))*)\s*"
    r"(?P<op><=|>=)\s*(?P<v>\d+(?:\.\d+)?)\s*(?P<u>%|s|min|h|d)?\s*$"
)


def parse_constraint(text: str) -> Constraint:
    """A constraint flag: `p95_wait cores<16 <= 1h`, `utilization partition=gpu >= 80%`,
    `fairness_accounts >= 0.9`."""
    m = _FLAG.match(text.lower())
    if m is None:
        raise ValueError(
            f"--constraint {text!r}: expected MEASURE [cores<N] [partition=P] "
            "<=|>= VALUE[unit], e.g. 'p95_wait cores<16 <= 1h'"
        )
    try:
        measure = Measure(m["m"])
    except ValueError:
        names = ", ".join(x.value for x in Measure)
        raise ValueError(f"--constraint {text!r}: unknown measure (use one of {names})") from None
    value = float(m["v"])
    unit = m["u"] or ""
    value = value / 100 if unit == "%" else value * _UNIT_S.get(unit, 1)
    want = "<=" if not measure.is_fraction else ">="
    if m["op"] != want:
        raise ValueError(f"--constraint {text!r}: {measure.value} is bounded with {want}")
    cores = re.search(r"cores<(\d+)", m["scope"])
    part = re.search(r"partition=([\w.-]+)", m["scope"])
    try:
        return Constraint(
            measure, value, int(cores[1]) if cores else None, part[1] if part else None
        )
    except GoalError as exc:
        raise ValueError(f"--constraint {text!r}: {exc}") from None


def parse_weight(text: str) -> tuple[Objective, float]:
    """`fairness=2`: an objective and its weight."""
    name, _, weight = text.partition("=")
    try:
        return Objective(name.strip()), float(weight or "1")
    except ValueError:
        names = ", ".join(o.value for o in Objective)
        raise ValueError(
            f"--weight {text!r}: expected OBJECTIVE=WEIGHT, objectives {names}"
        ) from None


def corrected(
    goal: Goal,
    *,
    weights: Sequence[str] = (),
    order: str | None = None,
    constraints: Sequence[str] | None = None,
) -> Goal:
    """`goal` with the parts the flags give replaced (`constraints=[]`: none)."""
    cons = goal.constraints if constraints is None else tuple(map(parse_constraint, constraints))
    try:
        if order:
            return Goal(
                order=tuple(Objective(o.strip()) for o in order.split(",")), constraints=cons
            )
        if weights:
            return Goal(weights=dict(map(parse_weight, weights)), constraints=cons)
        return Goal(
            weights=goal.weights, order=goal.order, constraints=cons, tolerance=goal.tolerance
        )
    except (GoalError, ValueError) as exc:
        raise ValueError(f"the corrected goal is not usable: {exc}") from None


def as_flags(goal: Goal) -> str:
    """The flags that state `goal` exactly: what to edit to correct a reading."""
    if goal.order:
        parts = ["--order " + ",".join(o.value for o in goal.order)]
    else:
        parts = [f"--weight {o.value}={w:g}" for o, w in goal.weights.items()]
    for c in goal.constraints:
        scope = (f" cores<{c.under_cores}" if c.under_cores else "") + (
            f" partition={c.partition}" if c.partition else ""
        )
        value = f"{c.bound:g}s" if c.measure.is_wait else f"{c.bound:g}"
        parts.append(
            f"--constraint '{c.measure.value}{scope} {'<=' if c.at_most else '>='} {value}'"
        )
    return " ".join(parts)
