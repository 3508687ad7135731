"""The rule reader's tables for the settings a what-if may change besides capacity: multifactor
priority weights, a QOS or partition limit, and how accurate requested times are.

Each reader takes a question already normalized by `agent.modes.reading.normalize` (lower
case, numbers as digits) and returns the field's value, or None when the question states none.
A relative change ("double the fair-share weight") needs the current value and is not read.
"""

from __future__ import annotations

import re

from agent.modes.scenario import Limit

_NUM = r"(?P<n>\d+(?:\.\d+)?)"
_WEIGHT_NAMES = {"age": "age", "fairshare": "fairshare", "fair share": "fairshare",
                 "fair-share": "fairshare", "job size": "job_size", "job_size": "job_size",
                 "job-size": "job_size", "size": "job_size", "partition": "partition",
                 "qos": "qos"}  # fmt: skip
_WEIGHT_WORD = r"(?P<k>age|fair[ -]?share|job[ _-]size|size|partition|qos)"
WEIGHTS = (
    rf"\b{_WEIGHT_WORD}\s+(?:priority\s+)?weight\s+(?:to|at|of|=|is|was|were|be|from\s+\d+\s+to)?\s*{_NUM}",
    rf"\bpriorityweight(?P<k2>age|fairshare|jobsize|partition|qos)\s*=\s*{_NUM}",
    rf"\bweight\s+(?:of\s+|on\s+)?{_NUM}\s+(?:on|for)\s+(?:the\s+)?{_WEIGHT_WORD}\b",
)
_LIMIT_WHAT = r"(?P<what>cores|cpus|gpus|nodes|jobs|running jobs|hours?|h|days?)"
_WHO = r"(?:\s+(?:per|a|each|for each)\s+(?P<who>user|account))?"
_SCOPED = r"(?:the\s+)?(?P<name>[\w.-]+)\s+(?P<scope>qos|partition)"
LIMITS = (
    rf"\b(?:cap|caps|capped|capping|limit|limits|limited|limiting|restrict|restricted)\s+"
    rf"{_SCOPED}\s+(?:at|to)\s+{_NUM}\s*{_LIMIT_WHAT}{_WHO}",
    rf"\b(?:max(?:imum)?\s+)?wall\s*(?:time|clock)?\s+(?:limit\s+)?(?:of\s+)?{_NUM}\s*"
    rf"{_LIMIT_WHAT}\s+(?:on|for|in)\s+{_SCOPED}",
    rf"\b{_SCOPED}\s+(?:gets|has|had|with)\s+(?:a\s+)?{_NUM}\s*{_LIMIT_WHAT}\s+"
    r"(?:wall\s*(?:time|clock)?\s+)?limit",
    rf"\b{_SCOPED}\s+(?:allowed|allows|allowing)\s+(?:only\s+)?{_NUM}\s*{_LIMIT_WHAT}{_WHO}",
)
_UNIT_H = {"hour": 1.0, "hours": 1.0, "h": 1.0, "day": 24.0, "days": 24.0}
ACCURACY = (
    (rf"\b(?:requested times?|requests|runtime estimates|estimates|wall\s*times?)\s+"
     rf"(?:were|are|was|became|get|got)\s+{_NUM}\s*(?:%|percent)\s+accurate", "percent"),
    (rf"\bjobs\s+(?:used?|using)\s+{_NUM}\s*(?:%|percent)\s+of\s+(?:their|the)\s+"
     r"(?:requested|request)", "percent"),
    (r"\b(?:perfect|exact|accurate|precise)\s+(?:runtime\s+|run\s+time\s+|wall\s*time\s+|time\s+)?"
     r"(?:estimates|requests|requested times|time requests|walltimes|wall times)", "exact"),
    (r"\b(?:request(?:ed)?|ask(?:ed)?\s+for)\s+exactly\b", "exact"),
    (r"\b(?:request(?:ed)?|ask(?:ed)?(?:\s+for)?)\s+(?P<k>twice|double|\d+(?:\.\d+)?\s+times)\s+"
     r"(?:the\s+time|what|as\s+long|their|the\s+run)", "times"),
)  # fmt: skip


def read_weights(q: str) -> tuple[tuple[str, int], ...]:
    """The multifactor weights the question sets, as sorted (name, value) pairs."""
    found: dict[str, int] = {}
    for pattern in WEIGHTS:
        for m in re.finditer(pattern, q):
            groups = m.groupdict()
            key = groups.get("k") or {"jobsize": "job_size"}.get(groups["k2"], groups["k2"])
            found[_WEIGHT_NAMES.get(key, key)] = int(float(m["n"]))
    return tuple(sorted(found.items()))


def read_limit(q: str) -> Limit | None:
    """The one QOS or partition limit the question sets."""
    for pattern in LIMITS:
        if m := re.search(pattern, q):
            what, value = m["what"], float(m["n"])
            if what.rstrip("s") in ("hour", "h", "day"):
                unit = {"hour": "hours", "h": "h", "day": "days"}.get(what, what)
                return Limit(m["scope"], m["name"], "max_wall_hours", value * _UNIT_H[unit])
            who = m.groupdict().get("who") or "user"
            count = {"cpus": "cores", "running jobs": "jobs"}.get(what, what)
            return Limit(m["scope"], m["name"], f"{count}_per_{who}", value)
    return None


def read_accuracy(q: str) -> float | None:
    """The share of its requested time a job uses (1: exact requests), if the question says."""
    for pattern, kind in ACCURACY:
        if m := re.search(pattern, q):
            if kind == "exact":
                return 1.0
            if kind == "percent":
                return round(float(m["n"]) / 100, 6)
            k = m["k"]
            factor = 2.0 if k in ("twice", "double") else float(k.split()[0])
            return round(1 / factor, 6) if factor >= 1 else None
    return None


def without_settings(q: str) -> str:
    """`q` with every settings phrase replaced by a clause break, so that the capacity and
    policy rules do not read them again ("fair share weight" is no fair-share order)."""
    patterns = [*WEIGHTS, *LIMITS, *(p for p, _ in ACCURACY)]
    for pattern in patterns:
        q = re.sub(pattern, " ; ", q)
    return q
