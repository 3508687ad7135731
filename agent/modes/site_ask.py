"""`agent ask --site`: a what-if in words about a stored site, read into change lines of the
what-if grammar (`hpc.site.changes`), then replayed by the `site_whatif` tool: the site as
it is and as changed, per partition.

The reader is a table of patterns, each giving one grammar line; a question written in the
grammar itself (lines separated by `;`) is taken as it is. A question the table cannot read is
read into the typed scenario by the rules (`agent.modes.reading`) and turned into grammar
lines for the site (`agent.modes.site_scenario`: GPUs, weights, QOS limits), or refused with
what a site replay cannot simulate. The answer's headline counts the jobs that never start.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from agent.errors import ToolError, UnreadableQuestion
from agent.guard import Verdict
from agent.modes.ask import headline
from agent.modes.reading import read_scenario
from agent.modes.site_scenario import refuse_unsupported, scenario_lines
from agent.records import DecisionRecord
from agent.tools.workspace import Workspace, toolbox
from hpc.errors import SiteError
from hpc.site.changes import GRAMMAR, parse_change
from hpc.timetext import span_text

_N = r"(?P<n>\d+)"
_PART = r"(?:the\s+)?(?:partition\s+)?(?P<p>[\w.-]+)(?:\s+partition)?"
_TIME = r"\d+\s*(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)?\b"
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# A group's words in the grammar's words (group -> question word -> grammar word).
_WORDS = {
    "who": {"user": "MaxTRESPU", "account": "MaxTRESPA"},
    "what": {"cores": "cpu", "cpus": "cpu", "gpus": "gres/gpu", "nodes": "node"},
    "k": {"fair-share": "fairshare", "job size": "job_size", "job-size": "job_size"},
}
# (pattern, grammar line): the line is the pattern's named groups put into the template.
READINGS: tuple[tuple[str, str], ...] = (
    (rf"\b(?:the\s+)?(?P<p>[\w.-]+)\s+partition\s+(?:gets|got|had|has|with)\s+{_N}\s+"
     r"(?:more|extra|additional|new)\s+nodes?\b", "add {n} nodes to {p}"),
    (rf"\b(?:add|adding|added|buy|buying)\s+{_N}\s+(?:more\s+|extra\s+|new\s+)?nodes?\s+"
     rf"(?:to|in|for)\s+{_PART}", "add {n} nodes to {p}"),
    (rf"\b{_N}\s+(?:more|extra|additional)\s+nodes?\s+(?:to|in|for)\s+{_PART}",
     "add {n} nodes to {p}"),
    (rf"\b(?:remove|removing|retire|retiring|lose|losing|lost)\s+{_N}\s+nodes?\s+"
     rf"(?:from|of|in)\s+{_PART}", "remove {n} nodes from {p}"),
    (rf"\bmov(?:e|ing)\s+{_N}\s+nodes?\s+from\s+(?:the\s+)?(?P<a>[\w.-]+)(?:\s+partition)?"
     r"\s+(?:in)?to\s+(?:the\s+)?(?P<b>[\w.-]+)", "move {n} nodes from {a} to {b}"),
    (rf"\b(?:cap|capp?ing|capped|limit|limiting)\s+(?:the\s+)?(?P<q>[\w.-]+)\s+qos\s+"
     rf"(?:at|to)\s+{_N}\s+(?P<what>cores|cpus|gpus|nodes)\s+(?:per|a|each)\s+(?P<who>user|account)",
     "qos {q} {who}={what}={n}"),
    (rf"\b(?:the\s+)?(?P<q>[\w.-]+)\s+qos(?:'s)?\s+priority\s+(?:to\s+|at\s+|of\s+)?{_N}",
     "qos {q} Priority={n}"),
    (rf"\b(?P<k>age|fair-?share|job[ _-]size|partition|qos)\s+weight\s+(?:to\s+|at\s+|of\s+)?{_N}",
     "weight {k}={n}"),
    (rf"\b(?:fail|fails|failing|failed|lose|loses|losing|lost)\s+(?:the\s+)?switch\s+"
     rf"(?P<s>[\w.-]+)(?:\s+(?:at|after|in)\s+(?P<t>{_TIME}))?", "fail switch {s}{at}"),
    (rf"\bswitch\s+(?P<s>[\w.-]+)\s+(?:fails|failed|goes\s+down|dies)"
     rf"(?:\s+(?:at|after|in)\s+(?P<t>{_TIME}))?", "fail switch {s}{at}"),
    (rf"\breserv\w*\s+(?:of\s+|on\s+)?{_PART}\s+for\s+(?P<d>{_TIME})\s+"
     rf"(?:from|at|starting(?:\s+at)?|in)\s+(?P<t>{_TIME})", "reserve {p} from {t} for {d}"),
    (rf"\breserv\w*\s+(?:of\s+|on\s+)?{_PART}\s+(?:from|at|starting(?:\s+at)?|in)\s+"
     rf"(?P<t>{_TIME})\s+for\s+(?P<d>{_TIME})", "reserve {p} from {t} for {d}"),
)  # fmt: skip
_COMPILED = tuple((re.compile(pattern, re.IGNORECASE), line) for pattern, line in READINGS)
EXAMPLES = (
    "what if the gpu partition gets 4 more nodes?",
    "cap the long QOS at 256 cores per user",
    "fail switch s1",
    "reserve the gpu partition for 4 hours from 48h",
)
_ORDERS = ("fcfs", "sjf", "multifactor")


def _time(text: str) -> str:
    """`4 hours`, `30m`, `2 days`, `90` in the grammar's form (`4h`, `30m`, `2d`, `90`)."""
    match = re.fullmatch(r"(\d+)\s*([a-z]?)\w*", text.strip().lower())
    assert match is not None  # _TIME matched it
    count, unit = match.groups()
    if unit == "w":
        return f"{int(count) * 7}d"
    return f"{count}{unit}" if unit in _TIME_UNITS else count


def _line(template: str, match: re.Match[str]) -> str:
    words = {k: v for k, v in match.groupdict().items() if v is not None}
    for group, table in _WORDS.items():
        if group in words:
            words[group] = table.get(words[group].lower(), words[group].lower())
    for group in ("t", "d"):
        if group in words:
            words[group] = _time(words[group])
    words["at"] = f" at {words['t']}" if "t" in words and "{at}" in template else ""
    return template.format(**words)


def _read(piece: str) -> list[str]:
    """One piece of a question as grammar lines: what the table reads in it, in order, else
    the piece itself where it is written in the grammar (it starts with one of its verbs)."""
    found: list[tuple[int, int, str]] = []
    for pattern, template in _COMPILED:
        found.extend((m.start(), m.end(), _line(template, m)) for m in pattern.finditer(piece))
    lines: list[str] = []
    end = -1
    for start, stop, line in sorted(found):
        if start >= end:  # a stretch of the question gives one change
            lines.append(line)
            end = stop
    if lines:
        return lines
    try:
        return [parse_change(piece.strip().rstrip("?.!")).text]
    except SiteError:
        return []


def read_changes(question: str) -> list[str]:
    """The question as grammar lines, in the order it states them (pieces separated by `;`
    or a new line are read one by one).

    Raises `UnreadableQuestion` (with examples and the grammar) when nothing can be read."""
    lines = [line for piece in re.split(r"[;\n]", question) for line in _read(piece)]
    if not lines:
        examples = "; ".join(f"{e!r}" for e in EXAMPLES)
        raise UnreadableQuestion(
            f"cannot read a site change in {question!r}: ask e.g. {examples}, or write the "
            f"changes in the what-if grammar, separated by ';': {GRAMMAR}"
        )
    return lines


def read_policy(question: str, default: str) -> str:
    """The site policy the question names (an order, and conservative or no backfill)."""
    q = question.lower()
    order = next((o for o in _ORDERS if re.search(rf"\b{o}\b", q)), None)
    if order is None:
        return default
    backfill = "conservative" if "conservative" in q else "none" if "no backfill" in q else "easy"
    return f"{order}:{backfill}"


def _check_untimed(question: str, lines: list[str], default: str) -> None:
    """Refuse a time, growth or request change the table's lines would drop ("add 2 nodes to
    gpu next week"), unless a line of a timed verb (reserve, fail ... at) holds the time."""
    if any(line.startswith("reserve") or " at " in line for line in lines):
        return
    try:
        scenario = read_scenario(question, default)
    except UnreadableQuestion:
        return  # the typed reader sees no change of its own: nothing for the table to drop
    refuse_unsupported(scenario)


@dataclass(slots=True)
class SiteAskResult:
    question: str
    changes: list[str]  # the grammar lines the question was read into
    policy: str
    figures: dict[str, Any]  # the site_whatif tool's result
    answer: str
    record: DecisionRecord
    wall_s: float


def ask_site(question: str, workspace: Workspace, *, policy: str | None = None) -> SiteAskResult:
    """Read `question` into change lines and answer with the site replay's figures."""
    t0 = time.perf_counter()
    site = workspace.site
    if site is None:
        raise ToolError("this workspace has no site: give --site NAME[@VERSION]")
    default = "multifactor:easy" if site.weights.multifactor else "fcfs:easy"
    try:
        changes = read_changes(question)
        chosen = policy or read_policy(question, default)
        _check_untimed(question, changes, default)
    except UnreadableQuestion as table:
        try:
            scenario = read_scenario(question, default)
        except UnreadableQuestion:
            raise table from None
        changes = scenario_lines(scenario, site)
        chosen = policy or scenario.policy or default
        if not changes and chosen == default:
            raise table from None
    arguments = {"changes": changes, "policy": chosen}
    text, error, _ = toolbox(workspace).call("site_whatif", arguments)
    if error:
        raise ToolError(error)
    figures: dict[str, Any] = json.loads(text)
    answer = site_answer(figures)
    record = DecisionRecord(
        question=question,
        action={"kind": "site_what_if", "site": workspace.site_label, "changes": changes,
                "policy": chosen},
        rationale=answer,
        objectives={"baseline": figures["overall"]["before"],
                    "scenario": figures["overall"]["after"]},
        verdict=Verdict(True, ("read-only what-if",)).as_dict(),
        chosen_by="rules",
        tool_calls=[{"name": "site_whatif", "arguments": arguments, "result": figures}],
        wall_s=time.perf_counter() - t0,
    )  # fmt: skip
    return SiteAskResult(question, changes, chosen, figures, answer, record,
                         time.perf_counter() - t0)  # fmt: skip


def site_answer(figures: dict[str, Any]) -> str:
    """The figures in words: overall (with the jobs that never start), then one line per
    partition, before -> after."""
    before, after = figures["overall"]["before"], figures["overall"]["after"]
    jobs = sum(r["jobs"] for r in figures["partitions"])
    lines = [
        f"On site {figures['site']} ({figures['workload']}) under {figures['policy']}, "
        f"changed by: {'; '.join(figures['changes']) or 'nothing (the policy only)'}",
        f"  overall as it is: {_headline(before, jobs)}",
        f"  overall changed:  {_headline(after, jobs)}",
    ]
    for r in figures["partitions"]:
        lines.append(
            f"  {r['partition']}: {r['jobs']} jobs; started {r['started_before']} -> "
            f"{r['started_after']}; mean wait {span_text(r['mean_wait_s_before'])} -> "
            f"{span_text(r['mean_wait_s_after'])}; p95 wait {span_text(r['p95_wait_s_before'])} "
            f"-> {span_text(r['p95_wait_s_after'])}; usage {r['usage_share_before']:.1%} -> "
            f"{r['usage_share_after']:.1%}"
        )
    if after["unstarted"] > before["unstarted"]:
        lines.append(
            f"  caution: {after['unstarted'] - before['unstarted']} more jobs never start on the "
            "changed site; the mean waits cover only the jobs that started"
        )
    return "\n".join(lines)


def _headline(figures: dict[str, Any], jobs: int) -> str:
    """`headline` of `agent.modes.ask`, with the utilization a site compares too."""
    return f"{headline(figures, jobs)}; utilization {figures['utilization']:.3f}"
