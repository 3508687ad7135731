"""The what-if reading that combines the rules with the model: the model fills the scenario's
JSON schema by constrained decoding (`LLMClient.structured` on the local server), the rules
(`agent.modes.reading`) read the same question, and `read_question` puts the two together.

The rules are authoritative on what they read: a pattern matched words in the question. The
model reads the fields the question speaks of again; where it reads a field differently, the
answer shows both readings and the difference, and goes on with the rules' reading. Where the
rules cannot read a field the question speaks of ("on friday", "double the weight"), or refuse
an ambiguous question, the model's reading is shown as a proposal and the user is asked which
is meant: a model reading alone is never simulated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.errors import InvalidScenario, LLMError
from agent.llm.client import LLMClient
from agent.llm.prompts import quote
from agent.modes.reading import read_rules
from agent.modes.scenario import DEFAULTS, SCHEMA, Scenario

# No worked examples: the 135M model copies their numbers into its readings (measured with
# one: "a couple of nodes crash tonight" and "5 fewer nodes" both read as the example's 3).
SYSTEM = (
    "Read an HPC admin's what-if question into JSON. Fields: node_delta: nodes added (+) or "
    "removed, lost or failing (-). gpu_delta: GPUs added (+) or removed (-). partition: the "
    "partition or node type named, else null. start_in_hours: hours until the change starts "
    "(now 0, tomorrow 24, next week 168). duration_hours: how long it lasts, null for good. "
    "policy: ORDER:BACKFILL, e.g. sjf:easy, fcfs:conservative, fcfs:none. workload_growth: "
    '0.2 for 20% more jobs. priority_weights: e.g. {"fairshare": 5000}. limit: a QOS or '
    "partition limit. request_accuracy: 1 for exact requested times."
)
# Fields a refused question may speak of (for the model's proposal), beyond the rules' open ones.
TOUCHED = {
    "node_delta": r"\bnodes?\b|\bracks?\b",
    "gpu_delta": r"\bgpus?\b",
    "start_in_hours": r"\b(?:tomorrow|next|week|month|day|days|hours?|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|soon|later)\b",
    "policy": r"\b(?:backfill\w*|sjf|fcfs|wfp3|unicep|f1|multifactor|policy|order)\b",
}


class _Fields(BaseModel):
    """Any JSON object: the schema constrains it, `Scenario` checks it."""

    model_config = ConfigDict(extra="allow")


@dataclass(slots=True)
class Reading:
    """A question as read: the scenario to simulate (None: refused, or asks which is meant),
    each reader's view of it, and the fields where they differ (field -> {rules, model})."""

    question: str
    scenario: Scenario | None
    refused: str = ""
    read_by: str = "rules"  # "rules", "rules+model" (they agree), "rules, model differs"
    rules: dict[str, Any] | None = None
    model: dict[str, Any] | None = None  # the fields the model was asked, as it read them
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    proposal: Scenario | None = None  # the model's reading where the rules refused
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The reading for --json: the scenario, both readings and where they differ."""
        out: dict[str, Any] = {
            "scenario": self.scenario.as_dict() if self.scenario else None,
            "read_by": self.read_by,
            "readings": {"rules": self.rules, "model": self.model},
            "differences": self.differences,
        }
        if self.refused:
            out["refused"] = self.refused
        if self.proposal is not None:
            out["proposal"] = {"scenario": self.proposal.as_dict(),
                               "words": self.proposal.describe()}  # fmt: skip
        if self.notes:
            out["notes"] = self.notes
        return out

    def explain(self) -> list[str]:
        """Lines for a person: the difference between the readings, or the question back."""
        lines = []
        if self.scenario is not None and self.differences:
            differ = "; ".join(
                f"{k}: rules {v['rules']!r}, model {v['model']!r}"
                for k, v in self.differences.items()
            )
            lines.append(
                f"the model read it differently ({differ}); the rules' reading is used, as "
                "their patterns matched the question's words"
            )
        if self.proposal is not None:
            lines.append(
                f"the model reads it as: {self.proposal.describe()}. Is that what you mean? "
                "Ask again in those words to have it simulated."
            )
        return lines + self.notes


def model_schema(names: list[str]) -> dict[str, Any]:
    """`SCHEMA` cut to the fields `names` (all of them required)."""
    properties = {k: v for k, v in SCHEMA["properties"].items() if k in names}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}  # fmt: skip


def read_by_model(question: str, llm: LLMClient, names: list[str] | None = None) -> dict[str, Any]:
    """The fields `names` (default: the whole schema) as the model reads `question`; raises
    `LLMError` when it gives no valid reply."""
    names = names or list(SCHEMA["properties"])
    reply = llm.structured(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": quote(question, 300)}],
        _Fields,
        name="scenario",
        json_schema=model_schema(names),
        max_tokens=24 + 14 * len(names),
    )
    return {k: v for k, v in reply.value.model_dump().items() if k in names}


def model_scenario(fields_read: dict[str, Any]) -> Scenario:
    """The model's fields over the defaults, as a `Scenario` (raises `InvalidScenario`)."""
    return Scenario.from_dict({**DEFAULTS, **fields_read})


def read_question(
    question: str, llm: LLMClient | None, current_policy: str = "fcfs:easy"
) -> Reading:
    """`question` read by the rules and, with `llm`, by the model too (see the module doc)."""
    rules = read_rules(question, current_policy)
    by_rules = rules.scenario.as_dict() if rules.scenario else None
    if llm is None:
        return Reading(question, rules.scenario, rules.refused, "rules", by_rules)
    if rules.scenario is not None:
        names = sorted(rules.certain)
    else:
        q = question.lower()
        names = sorted(set(rules.open) | {k for k, cue in TOUCHED.items() if re.search(cue, q)})
    if not names:  # a question about nothing the schema holds: no model reading to show
        return Reading(question, None, rules.refused, "rules", by_rules)
    try:
        by_model = read_by_model(question, llm, names)
    except LLMError as exc:
        note = f"the model gave no usable reading ({exc})"
        return Reading(question, rules.scenario, rules.refused, "rules", by_rules, notes=[note])
    base = by_rules or DEFAULTS
    notes = []
    try:
        valid = Scenario.from_dict({**base, **by_model})
        merged_scenario: Scenario | None = valid
        merged = valid.as_dict()
    except InvalidScenario as exc:
        merged_scenario, merged = None, {**base, **by_model}
        notes.append(f"the model's reading is no valid scenario ({exc})")
    differences = {
        k: {"rules": base[k] if by_rules else None, "model": merged[k]}
        for k in names
        if merged[k] != base[k] or (by_rules is None and k in rules.open)
    }
    if rules.scenario is not None:
        by = "rules, model differs" if differences else "rules+model"
        return Reading(question, rules.scenario, "", by, by_rules, by_model, differences,
                       notes=notes)  # fmt: skip
    return Reading(question, None, rules.refused, "rules", None, by_model, differences,
                   merged_scenario, notes)  # fmt: skip


def read_exactly(case: dict[str, Any], scenario: Scenario | None) -> bool:
    """Whether `scenario` is the reading-set `case`'s expected one (None where it must refuse)."""
    if case.get("refuse"):
        return scenario is None
    return scenario is not None and scenario == Scenario.from_dict(case["expect"])


def model_alone(question: str, llm: LLMClient) -> Scenario | None:
    """The model's reading of the whole schema on its own (None: nothing valid, a refusal)."""
    try:
        return model_scenario(read_by_model(question, llm))
    except (LLMError, InvalidScenario):
        return None
