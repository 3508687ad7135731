"""Plain-text tables for the terminal: policy comparisons and per-user breakdowns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpc.metrics import GroupRow, Summary
    from hpc.sim.site_engine import PartitionRow

_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (header, Summary attribute, format)
    ("policy", "policy", "{}"),
    ("jobs", "jobs", "{:d}"),
    ("mean wait", "mean_wait_s", "duration"),
    ("median wait", "median_wait_s", "duration"),
    ("p95 wait", "p95_wait_s", "duration"),
    ("mean bsld", "mean_bsld", "{:.2f}"),
    ("util", "utilization", "{:.3f}"),
    ("makespan", "makespan_s", "duration"),
    ("jain", "jain_fairness", "{:.3f}"),
    ("sim time", "sim_wall_s", "{:.2f} s"),
)


def format_duration(seconds: float) -> str:
    """Seconds in the unit a person reads best: 45 s, 12.5 min, 3.2 h, 4.1 d."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _cell(value: object, fmt: str) -> str:
    if fmt == "duration":
        return format_duration(float(value))  # type: ignore[arg-type]
    return fmt.format(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-aligned columns (the first left-aligned) under a header and a rule."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def format_summaries(summaries: Sequence[Summary]) -> str:
    rows = [[_cell(getattr(s, attr), fmt) for _, attr, fmt in _COLUMNS] for s in summaries]
    text = format_table([h for h, _, _ in _COLUMNS], rows)
    unstarted = [s for s in summaries if s.unstarted]
    for s in unstarted:
        text += f"\n{s.policy}: {s.unstarted} jobs never started (capacity lost for good)"
    return text


def format_breakdown(rows: Sequence[GroupRow], by: str) -> str:
    body = [
        [
            str(r.key),
            str(r.jobs),
            format_duration(r.mean_wait_s),
            f"{r.mean_bsld:.2f}",
            f"{r.usage_share:.1%}",
        ]
        for r in rows
    ]
    return format_table([by, "jobs", "mean wait", "mean bsld", "usage"], body)


def format_partitions(rows: Sequence[PartitionRow]) -> str:
    """A site replay's per-partition rows (`SiteResult.partition_summary`); on a site with
    switches, the jobs on several nodes and the mean leaf switches each spans."""
    body = [
        [
            r.partition,
            str(r.jobs),
            str(r.started),
            format_duration(r.mean_wait_s),
            format_duration(r.p95_wait_s),
            f"{r.usage_share:.1%}",
        ]
        for r in rows
    ]
    head = ["partition", "jobs", "started", "mean wait", "p95 wait", "usage"]
    if any(r.mean_leaf_switches is not None for r in rows):  # a site with switches
        head += ["multi-node", "leaf switches"]
        for line, r in zip(body, rows, strict=True):
            spans = r.mean_leaf_switches
            line += [str(r.multi_node), "-" if spans is None else f"{spans:.2f}"]
    return format_table(head, body)
