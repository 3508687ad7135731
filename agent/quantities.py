"""Numbers quoted in free text (a model's rationale), read with their units and precision.

A quoted number stands for the range its last digit allows: "2 h" for 1.5-2.5 h, "2 h 05 min"
for 2 h 04.5-05.5 min, "7,500 s" for 7,499.5-7,500.5 s, widened to 1 % of the value (a model
rounds "7,512 s" to "7,500 s"). The guard (`agent.guard.Guard.check_rationale`) asks
whether each one is a `Figure` the simulation produced; spelled-out numbers are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

RELATIVE_TOLERANCE = 0.01  # a rounded figure may be this far off, besides its last digit


class Kind(Enum):
    """What a number measures: its unit family."""

    TIME = "time"  # seconds
    PERCENT = "percent"  # percent points
    COUNT = "count"  # nodes, jobs, cores
    RATIO = "ratio"  # "2.5 times", "3x"
    PLAIN = "plain"  # no unit: an id, a slowdown, a fairness index, or seconds written bare


_TIME_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_COUNT_UNITS = frozenset(
    ("node", "nodes", "job", "jobs", "core", "cores", "unit", "units", "gpu", "gpus")
)
_RATIO_UNITS = frozenset(("x", "times", "fold"))
JOB = "job"  # the metric of a job id: the number right after "job" ("job 17"), and only it
# The metric a nearby word names (a number right after it must be a figure of that metric).
METRIC_WORDS = {
    "wait": "wait",
    "waits": "wait",
    "waited": "wait",
    "waiting": "wait",
    "makespan": "makespan",
    "slowdown": "slowdown",
    "bsld": "slowdown",
    "fairness": "fairness",
    "jain": "fairness",
}
_NUMBER = re.compile(
    r"(?<![\w.])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?![\d])"
    r"(?:\s*(?P<unit>%|[A-Za-z]+))?"
)
_IN_SECONDS = re.compile(r"[\d,.]+\s*(?:s|secs?|seconds?)", re.IGNORECASE)
_JOB_BEFORE = re.compile(r"\bjobs?\s*(?:id\s*)?#?\s*$", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+")
_JOINER = re.compile(r"^\s*(?:and\s+)?$")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number as quoted: its value (seconds for TIME), how precise, and the metric named."""

    text: str
    value: float
    kind: Kind
    tolerance: float  # in the unit of `value`
    metric: str | None = None

    def describe(self) -> str:
        if self.kind is Kind.TIME and not _IN_SECONDS.fullmatch(self.text):
            return f"{self.text!r} ({self.value:g} s)"
        return repr(self.text)


@dataclass(frozen=True, slots=True)
class Figure:
    """A number the simulation produced, which a rationale may quote."""

    name: str  # "mean_wait of start job 17", "job id", ...
    value: float
    kind: Kind
    metric: str | None = None  # "wait", "makespan", "slowdown", "fairness" or None

    def within(self, q: Quantity) -> bool:
        """Whether `q` quotes this figure (same kind, or a bare number; within its precision)."""
        values = [self.value]
        if q.kind is Kind.PERCENT and self.kind is Kind.PLAIN:
            values = [100 * self.value]  # fairness 0.93 quoted as 93 %
        elif q.kind not in (self.kind, Kind.PLAIN) and (q.kind, self.kind) != (
            Kind.COUNT,
            Kind.PLAIN,
        ):
            return False  # a time is no count, a percentage no time (a bare id may be a count)
        if q.metric is not None and self.metric != q.metric:
            return False
        if q.kind is Kind.PLAIN and self.kind in (Kind.PERCENT, Kind.RATIO):
            return False  # a bare 17 is no 16.5 % (nor a ratio)
        if self.metric == JOB and q.metric != JOB:
            return False  # a job id matches "job 17", not a bare 17 said of something else
        slack = max(q.tolerance, RELATIVE_TOLERANCE * abs(q.value)) + 1e-9
        return any(abs(abs(v) - q.value) <= slack for v in values)


def quantities(text: str) -> list[Quantity]:
    """Every number in `text`, in order; consecutive times ("2 h 05 min") are one quantity."""
    found: list[tuple[int, int, Quantity]] = []
    for m in _NUMBER.finditer(text):
        digits, frac = m.group("int").replace(",", ""), m.group("frac") or ""
        value = float(f"{digits}.{frac}" if frac else digits)
        step = 0.5 * 10.0 ** (-len(frac))
        unit = (m.group("unit") or "").lower()
        metric = _metric_before(text, found[-1][1] if found else 0, m.start())
        end = m.end()
        if unit in _TIME_UNITS:
            scale = _TIME_UNITS[unit]
            q = Quantity(m.group(0), value * scale, Kind.TIME, step * scale, metric)
            if found and _joins(text, found[-1], m.start(), q):
                start, _, prev = found.pop()
                whole = Quantity(text[start:end], prev.value + q.value, Kind.TIME, q.tolerance,
                                 prev.metric)  # fmt: skip
                found.append((start, end, whole))
                continue
        elif unit in ("%", "percent"):
            q = Quantity(m.group(0), value, Kind.PERCENT, step, metric)
        elif unit in _COUNT_UNITS:
            q = Quantity(m.group(0), value, Kind.COUNT, step, None)
        elif unit in _RATIO_UNITS:
            q = Quantity(m.group(0), value, Kind.RATIO, step, metric)
        else:  # a word that is no unit stays out of the quantity
            end = m.end("frac") if frac else m.end("int")
            if _JOB_BEFORE.search(text[: m.start()]):
                metric = JOB
            q = Quantity(text[m.start() : end], value, Kind.PLAIN, step, metric)
        found.append((m.start(), end, q))
    return [q for _, _, q in found]


def unmatched(text: str, figures: Iterable[Figure]) -> list[Quantity]:
    """The numbers in `text` that quote none of `figures`."""
    known = list(figures)
    return [q for q in quantities(text) if not any(f.within(q) for f in known)]


def _joins(text: str, prev: tuple[int, int, Quantity], start: int, q: Quantity) -> bool:
    """Whether `q` continues the time before it ("2 h 05 min"): a smaller unit, only a joiner."""
    _, prev_end, p = prev
    if p.kind is not Kind.TIME or not _JOINER.match(text[prev_end:start]):
        return False
    return q.tolerance < p.tolerance  # a smaller unit: "2 h 05 min", not "1200 s, 1500 s"


def _metric_before(text: str, since: int, at: int) -> str | None:
    """The last metric word in the few words before `at`, not reaching back past `since`."""
    words: Sequence[str] = _WORD.findall(text[max(since, at - 40) : at])
    for word in reversed(words[-4:]):
        metric = METRIC_WORDS.get(word.lower())
        if metric is not None:
            return metric
    return None
