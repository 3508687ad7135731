"""Times as people read them."""

from __future__ import annotations

import time

from hpc.timetext import clock_text, span_text


def test_spans_read_in_hours_and_minutes() -> None:
    assert span_text(45) == "45 s"
    assert span_text(12 * 60) == "12 min"
    assert span_text(2 * 3600 + 5 * 60) == "2 h 05 min"
    assert span_text(3600) == "1 h"
    assert span_text(3 * 86_400 + 4 * 3600 + 20) == "3 d 4 h"


def test_moments_are_local_clock_times_said_relative_to_today() -> None:
    noon = time.mktime((2030, 3, 14, 12, 0, 0, 0, 0, -1))
    assert clock_text(noon + 2 * 3600 + 5 * 60, noon) == "today 14:05"
    assert clock_text(noon + 86_400 - 3 * 3600, noon) == "tomorrow 09:00"
    assert clock_text(noon - 86_400, noon) == "yesterday 12:00"
    assert clock_text(noon + 5 * 86_400, noon) == "Tue 19 Mar 12:00"
    assert clock_text(noon + 400 * 86_400, noon).endswith("2031 12:00")
