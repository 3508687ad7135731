"""Charts of a what-if (Altair specs over plain rows; the pages only place them)."""

from __future__ import annotations

from typing import Any

import altair as alt


def pareto_chart(rows: list[dict[str, Any]]) -> alt.LayerChart:
    """Mean wait against utilization, one point per policy; the Pareto front is joined."""
    data = [{**r, "front": "Pareto front" if r["pareto"] else "dominated"} for r in rows]
    front = sorted((r for r in data if r["pareto"]), key=lambda r: float(r["mean_wait_s"]))
    x = alt.X("mean_wait_s:Q", title="mean wait (s), lower is better")
    y = alt.Y("utilization:Q", title="utilization, higher is better", scale=alt.Scale(zero=False))
    base = alt.Chart(alt.InlineData(values=data)).encode(x=x, y=y)
    points = base.mark_circle(size=140).encode(
        color=alt.Color("front:N", title=None),
        tooltip=["policy:N", "mean_wait_s:Q", "utilization:Q"],
    )
    labels = base.mark_text(align="left", dx=8).encode(text="policy:N")
    line = alt.Chart(alt.InlineData(values=front)).mark_line(strokeDash=[4, 3]).encode(x=x, y=y)
    return alt.LayerChart(layer=[line, points, labels], height=360)


def fairness_chart(rows: list[dict[str, Any]], top_users: int = 15) -> alt.Chart:
    """Mean wait per user (the users with most jobs), one bar per policy."""
    jobs: dict[int, int] = {}
    for r in rows:
        jobs[r["user"]] = max(jobs.get(r["user"], 0), int(r["jobs"]))
    top = set(sorted(jobs, key=lambda u: -jobs[u])[:top_users])
    data = [r for r in rows if r["user"] in top]
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=data))
        .mark_bar()
        .encode(
            x=alt.X("user:N", title="user"),
            xOffset="policy:N",
            y=alt.Y("mean_wait_s:Q", title="mean wait (s)"),
            color="policy:N",
            tooltip=["user:N", "policy:N", "jobs:Q", "mean_wait_s:Q", "usage_share:Q"],
        )
        .properties(height=320)
    )
    return chart
