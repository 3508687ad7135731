"""The rule reader: a what-if question in words read into a `Scenario`, or refused.

Number words become digits first ("sixteen", "a dozen"); then tables of patterns read the
settings (`agent.modes.reading_settings`: weights, limits, request accuracy), the node and
GPU changes (the verbs in the same clause give the sign), when and for how long, the policy
and workload growth. A question with no change in it, or one whose reading is ambiguous (a
node count with no direction, two node changes, a time or setting in words no pattern
reads, such as "on friday"), is refused, never guessed: `RuleReading.open` names the fields
the question speaks of that the rules could not read, for the model to propose a reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.errors import InvalidScenario, UnreadableQuestion
from agent.modes.reading_settings import read_accuracy, read_limit, read_weights, without_settings
from agent.modes.scenario import DEFAULTS, Scenario
from hpc.sim.policy import order_names

REFUSAL = "not a what-if I can read"
_SMALL = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen"))}  # fmt: skip
_TENS = {w: 10 * i for i, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy",
                                          "eighty", "ninety"), start=2)}  # fmt: skip
# Phrases that stand for a number, or for a way of saying one (tried in this order).
_PHRASES = (
    (r"half a dozen", "6"),
    (r"a dozen|one dozen", "12"),
    (r"a couple of|a couple|a pair of", "2"),
    (r"a single", "1"),
    (r"double the number of", "twice as many"),
    (r"(?:a|an)(?=\s+(?:more|extra|additional|new|single|spare|other)?\s*"
     r"(?:node|gpu|hour|day|week|month|fortnight)s?\b)", "1"),
)  # fmt: skip
_UNIT_H = {"hour": 1.0, "hr": 1.0, "h": 1.0, "day": 24.0, "d": 24.0, "week": 168.0, "w": 168.0,
           "fortnight": 336.0, "month": 720.0}  # fmt: skip
_UNIT = r"(?P<unit>hours?|hrs?|h|days?|d|weeks?|w|fortnights?|months?)\b"
_NUM = r"(?P<n>\d+(?:\.\d+)?)"

# The sign of a node or GPU change: words in its clause.
ADD_WORDS = ("add", "adds", "added", "adding", "more", "extra", "additional", "another", "grow",
             "grows", "grew", "expand", "expands", "expanded", "buy", "bought", "buying", "gain",
             "gained", "install", "installed", "new", "bring in", "brought in", "get",
             "got")  # fmt: skip
REMOVE_WORDS = ("lose", "loses", "lost", "losing", "remove", "removed", "removing", "fail",
                "fails", "failed", "failing", "failure", "down", "fewer", "decommission",
                "decommissioned", "decommissioning", "retire", "retired", "drain", "drained",
                "offline", "outage", "less", "shrink", "cut", "take away", "broken", "die",
                "dies", "died", "crash", "crashes", "crashed")  # fmt: skip
# Start: (pattern, hours or None where the pattern's number and unit say).
STARTS: tuple[tuple[str, float | None], ...] = (
    (rf"\b{_NUM}\s*{_UNIT}\s+(?:from now|later|ahead)", None),
    (r"\b(?:right now|immediately|today|tonight|now)\b", 0.0),
    (r"\b(?:next|from next) week\b", 168.0),
    (r"\bnext month\b", 720.0),
    (r"\btomorrow\b", 24.0),
    (rf"\b(?:in|after|starting in|from|starting)\s+{_NUM}\s*{_UNIT}", None),
)
DURATIONS: tuple[tuple[str, float | None], ...] = (
    (rf"\bfor\s+(?:the\s+next\s+)?{_NUM}\s*{_UNIT}", None),
    (rf"\b{_NUM}[\s-]*{_UNIT}\s+(?:outage|maintenance|failure|downtime|window|loan)", None),
    (r"\bfor (?:the|a) weekend\b", 48.0),
)
# Order names as people say them.
ORDERS = {"first come first served": "fcfs", "fifo": "fcfs", "shortest job first": "sjf",
          "fair share": "multifactor", "fairshare": "multifactor",
          **{o: o for o in order_names()}}  # fmt: skip
BACKFILLS = (
    (r"\b(?:no|without|off|disable|disabled|turn off|drop|stop)\s+(?:\w+\s+)?backfill", "none"),
    (r"\bbackfill(?:ing)?\s+(?:off|disabled)\b", "none"),
    (r"\bconservative\b", "conservative"),
    (r"\beasy\b", "easy"),
)
GROWTH = (
    (rf"{_NUM}\s*(?:%|percent)\s+(?:more|extra|additional)\s+(?:jobs|work|load|submissions)", 1),
    (rf"{_NUM}\s*(?:%|percent)\s+(?:fewer|less)\s+(?:jobs|work|load|submissions)", -1),
    (rf"\b(?:jobs|workload|load|submissions)\s+(?:grows?|rises?|increases?|goes up)\s+"
     rf"(?:by\s+)?{_NUM}\s*(?:%|percent)", 1),
    (rf"\b(?:jobs|workload|load|submissions)\s+(?:shrinks?|drops?|falls?|decreases?|goes down)\s+"
     rf"(?:by\s+)?{_NUM}\s*(?:%|percent)", -1),
)  # fmt: skip
_DOUBLING = (r"\b(?:twice as many (?:jobs|submissions)|(?:jobs|workload|load) doubles?|"
             r"double the (?:jobs|workload|load))\b")  # fmt: skip
_NODES = (
    r"(?P<n>\d+)\s+(?:(?:more|extra|additional|new|fewer|spare|other)\s+)?"
    r"(?:(?P<type>gpu|cpu|compute|bigmem|highmem|himem|fat|login)\s+)?nodes?\b"
)
_GPUS = r"(?P<n>\d+)\s+(?:(?:more|extra|additional|new|fewer)\s+)?gpus?\b(?!\s+nodes?)"
_PARTITION = (r"\b(?:(?:to|from|in|of|on|for)\s+)?(?:the\s+)?(?:partition\s+(?P<a>[\w.-]+)|"
              r"(?P<b>[\w.-]+)\s+partition)\b")  # fmt: skip
_CLAUSE = re.compile(r"[,;]|\band\b|\bplus\b|\bthen\b|\balso\b|\bwhile\b|\bbut\b")
_VAGUE = re.compile(r"\b(?:a few|some|several|many|a lot of|lots of|a rack|racks|half)\b")
# Words that say the question speaks of a field: where no pattern read it, it is open.
CUES = {
    "start_in_hours": r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|soon|"
    r"later|next year|end of (?:the )?(?:week|month|year)|midnight|this weekend|in a while|"
    r"next quarter|christmas)\b",
    "duration_hours": r"\b(?:temporarily|for a while|until|for some time|briefly|for now)\b",
    "priority_weights": r"\bweights?\b",
    "limit": r"\b(?:qos|limit|limits|cap|capped|max ?wall|wall ?time limit|maxtime)\b",
    "request_accuracy": r"\b(?:estimat\w*|accura\w*|requested times?|time requests?|"
    r"over-?request\w*)\b",
    "workload_growth": r"\b(?:busier|more jobs|fewer jobs|more work|heavier load|"
    r"load (?:grows|increases|rises))\b",
}
# How to say each field so that a rule reads it (for refusals).
SAYS = {"start_in_hours": ("when", "'in 3 days', 'next week', 'tomorrow'"),
        "duration_hours": ("how long", "'for 6 hours', 'for a week'"),
        "priority_weights": ("a priority weight", "'fairshare weight to 5000'"),
        "limit": ("a limit", "'cap the long qos at 256 cores per user', 'limit the gpu "
                  "partition to 12 hours'"),
        "request_accuracy": ("requested times", "'perfect runtime estimates', 'jobs used 80% "
                             "of their requested time'"),
        "workload_growth": ("the load", "'20% more jobs'")}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleReading:
    """What the rules read: the scenario, or why they refuse; which fields a pattern read
    (`certain`), and which the question speaks of in words no pattern reads (`open`: field
    -> the words), where the rules refuse rather than guess."""

    scenario: Scenario | None
    refused: str = ""
    certain: frozenset[str] = frozenset()
    open: dict[str, str] = field(default_factory=dict)


def read_rules(question: str, current_policy: str = "fcfs:easy") -> RuleReading:
    """`question` read by the rules, with the fields they read and the ones left open."""
    q = normalize(question)
    try:
        scenario = read_scenario(question, current_policy)
    except UnreadableQuestion as exc:
        return RuleReading(None, str(exc), open=_open(q))
    stated = {name for name, value in scenario.as_dict().items() if value != DEFAULTS[name]}
    if _start_stated(q):
        stated.add("start_in_hours")
    return RuleReading(scenario, certain=frozenset(stated))


def read_scenario(question: str, current_policy: str = "fcfs:easy") -> Scenario:
    """`question` as a `Scenario`; a named order keeps the current backfill, and a named
    backfill keeps the current order. Raises `UnreadableQuestion` ("not a what-if I can
    read: ...") for a question with no change in it or an ambiguous one."""
    whole = normalize(question)
    try:
        weights, limit, accuracy = read_weights(whole), read_limit(whole), read_accuracy(whole)
    except InvalidScenario as exc:
        raise UnreadableQuestion(f"{REFUSAL}: {question!r}: {exc}") from None
    q = without_settings(whole)
    nodes = _changes(q, _NODES, "node")
    gpus = _changes(q, _GPUS, "GPU")
    policy = _policy(q, current_policy)
    growth = _growth(q)
    start, duration = _when(q)
    read = {"start_in_hours": start != 0 or _start_stated(q), "duration_hours": duration,
            "priority_weights": weights, "limit": limit, "request_accuracy": accuracy,
            "workload_growth": growth is not None}  # fmt: skip
    unread = {k: v for k, v in _open(whole).items() if not read.get(k)}
    if unread:
        what = "; ".join(f"{SAYS[k][0]} ({v!r}: say e.g. {SAYS[k][1]})"
                         for k, v in unread.items())  # fmt: skip
        raise UnreadableQuestion(f"{REFUSAL} exactly: {question!r} says {what}")
    settings = bool(weights or limit or accuracy is not None)
    if not (nodes or gpus or policy or growth is not None or settings):
        if re.search(r"\d+\s+(?:\w+\s+)?(?:nodes?|gpus?)\b", q) or _VAGUE.search(q):
            raise UnreadableQuestion(
                f"{REFUSAL}: {question!r} names no exact count to add or remove "
                "(say e.g. 'add 16 nodes' or 'lose 8 nodes')"
            )
        raise UnreadableQuestion(
            f"{REFUSAL}: {question!r} asks for no change in nodes, GPUs, policy, weights, "
            "limits, requested times or workload "
            "(e.g. 'what if we added 16 nodes next week?', 'what if we switched to sjf?')"
        )
    for what, found in (("node", nodes), ("GPU", gpus)):
        if len(found) > 1:
            raise UnreadableQuestion(f"{REFUSAL}: {question!r} has {len(found)} {what} changes; "
                                     "ask about one at a time")  # fmt: skip
    node_delta, partition = nodes[0] if nodes else (0, None)
    try:
        return Scenario(node_delta=node_delta,
                        partition=partition or (gpus[0][1] if gpus else None),
                        gpu_delta=gpus[0][0] if gpus else 0, start_in_hours=start,
                        duration_hours=duration, policy=policy, workload_growth=growth,
                        priority_weights=weights, limit=limit,
                        request_accuracy=accuracy)  # fmt: skip
    except InvalidScenario as exc:
        raise UnreadableQuestion(f"{REFUSAL}: {question!r}: {exc}") from None


def _open(q: str) -> dict[str, str]:
    """Each field whose cue words are in `q`, with the words."""
    return {name: m[0] for name, cue in CUES.items() if (m := re.search(cue, q))}


def _start_stated(q: str) -> bool:
    return any(re.search(pattern, q) for pattern, _ in STARTS)


def normalize(question: str) -> str:
    """Lower case, number words as digits, one space between words."""
    q = " ".join(question.lower().replace("-", " - ").split())
    q = re.sub(r"\s-\s(?=\w)", " ", q).replace(" - ", "-")
    q = re.sub(r"(\d),(\d{3})\b", r"\1\2", q)
    for pattern, value in _PHRASES:
        q = re.sub(rf"\b(?:{pattern})\b", value, q)
    return re.sub(r"\b[a-z]+(?:\s+[a-z]+)*\b", _words_to_digits, q)


def _words_to_digits(match: re.Match[str]) -> str:
    """A run of words, each spelled-out number in it ("twenty four") as digits ("24")."""
    out: list[str] = []
    value: int | None = None
    done = 0  # the thousands already read of the number being read
    last = ""  # the kind of the number word before: "small", "tens", "hundred", "thousand"
    for word in match[0].split():
        if word == "thousand" and value is not None and last != "thousand":
            done, value, last = (done + value) * 1000, 0, "thousand"
        elif word == "hundred" and value is not None and last not in ("hundred", "thousand"):
            value, last = value * 100, "hundred"
        elif word in _TENS and last in ("hundred", "thousand"):
            value, last = (value or 0) + _TENS[word], "tens"
        elif word in _SMALL and (last in ("hundred", "thousand") or
                                 (last == "tens" and _SMALL[word] < 10)):  # fmt: skip
            value, last = (value or 0) + _SMALL[word], "small"
        elif word in _TENS or word in _SMALL:
            _flush(out, value, done)
            done = 0
            value, last = _TENS.get(word, _SMALL.get(word)), "tens" if word in _TENS else "small"
        elif word == "and" and last in ("hundred", "thousand"):
            continue
        else:
            _flush(out, value, done)
            value, done, last = None, 0, ""
            out.append(word)
    _flush(out, value, done)
    return " ".join(out)


def _flush(out: list[str], value: int | None, done: int = 0) -> None:
    if value is not None:
        out.append(str(done + value))


def _clause(q: str, start: int, end: int) -> str:
    """The clause of `q` around [start, end): between the nearest separators."""
    before = [m.end() for m in _CLAUSE.finditer(q, 0, start)]
    after = _CLAUSE.search(q, end)
    return q[(before[-1] if before else 0) : (after.start() if after else len(q))]


def _sign(clause: str) -> int:
    """+1 or -1 from the clause's verbs; 0 where they say nothing or both."""
    adds = any(re.search(rf"\b{w}\b", clause) for w in ADD_WORDS)
    removes = any(re.search(rf"\b{w}\b", clause) for w in REMOVE_WORDS)
    return 0 if adds == removes else (1 if adds else -1)


def _changes(q: str, pattern: str, noun: str) -> list[tuple[int, str | None]]:
    """Each signed count of `noun` in `q`, with its partition or node type."""
    found: list[tuple[int, str | None]] = []
    for m in re.finditer(pattern, q):
        clause = _clause(q, m.start(), m.end())
        sign = _sign(clause)
        if sign == 0:
            raise UnreadableQuestion(
                f"{REFUSAL}: {m[0]!r} does not say whether the {noun}s are added or removed "
                f"(say e.g. 'add {m['n']} {noun}s' or 'lose {m['n']} {noun}s')"
            )
        where = re.search(_PARTITION, clause)
        kind = m.groupdict().get("type")
        partition = (where["a"] or where["b"]) if where else None
        if partition is None and kind not in (None, "compute"):
            partition = kind
        found.append((sign * int(m["n"]), partition))
    return found


def _hours(match: re.Match[str], fixed: float | None) -> float:
    if fixed is not None:
        return fixed
    return float(match["n"]) * _UNIT_H[match["unit"].rstrip("s")]


def _when(q: str) -> tuple[float, float | None]:
    """Hours until the change starts (0: now) and how long it lasts (None: for good)."""
    duration = None
    taken: list[tuple[int, int]] = []
    for pattern, fixed in DURATIONS:
        if m := re.search(pattern, q):
            duration = _hours(m, fixed)
            taken.append(m.span())
            break
    start = 0.0
    for pattern, fixed in STARTS:
        for m in re.finditer(pattern, q):
            if not any(a <= m.start() < b for a, b in taken):
                return _hours(m, fixed), duration
    return start, duration


def _policy(q: str, current: str) -> str | None:
    """ORDER:BACKFILL where the question names an order or a backfill mode, else None."""
    order = next((o for name, o in sorted(ORDERS.items(), key=lambda x: -len(x[0]))
                  if re.search(rf"\b{re.escape(name)}\b", q)), None)  # fmt: skip
    backfill = next((b for pattern, b in BACKFILLS if re.search(pattern, q)), None)
    if backfill == "easy" and not re.search(r"\beasy\s+backfill|\bwith\s+easy\b|:easy\b", q):
        backfill = None  # "easy" alone is too common a word
    if order is None and backfill is None:
        return None
    current_order, _, current_backfill = current.partition(":")
    return f"{order or current_order}:{backfill or current_backfill or 'easy'}"


def _growth(q: str) -> float | None:
    """The relative change in the number of jobs (0.2: 20% more), if the question has one."""
    if re.search(_DOUBLING, q):
        return 1.0
    for pattern, sign in GROWTH:
        if m := re.search(pattern, q):
            return round(sign * float(m["n"]) / 100, 6)
    return None
