"""Table rows with durations as people read them; markdown made literal."""

from __future__ import annotations

import math

import numpy as np

from dashboard.text import escape_markdown, with_spans


def test_seconds_fields_become_spans_and_lose_their_unit() -> None:
    rows = [{"policy": "fcfs:easy", "mean_wait_s": 7500.0, "p95_wait_s_after": np.int64(45),
             "makespan_s": None, "usage_share_after": 0.5, "pareto": True,
             "mean_bsld": 1.5, "x_s": math.nan}]  # fmt: skip
    assert with_spans(rows) == [
        {"policy": "fcfs:easy", "mean_wait": "2 h 05 min", "p95_wait_after": "45 s",
         "makespan": "-", "usage_share_after": 0.5, "pareto": True, "mean_bsld": 1.5, "x": "-"}
    ]  # fmt: skip


def test_escape_keeps_text_literal() -> None:
    assert escape_markdown("**a**\nb") == r"\*\*a\*\* b"
