"""Times as people read them: spans (`2 h 05 min`) and moments in local clock time
(`today 14:05`, `tomorrow 09:10`, `Tue 9 Dec 14:05`). Input times are seconds (spans) or
seconds since the Unix epoch (moments)."""

from __future__ import annotations

import time


def span_text(seconds: float) -> str:
    """`45 s`, `12 min`, `2 h 05 min`, `3 d 4 h`; rounded to the nearest minute past 90 s."""
    s = abs(seconds)
    if s < 90:
        return f"{s:.0f} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def clock_text(epoch_s: float, now_s: float) -> str:
    """A moment in local time, said relative to today where that is shorter."""
    at, today = time.localtime(epoch_s), time.localtime(now_s)
    clock = time.strftime("%H:%M", at)
    day_offset = _day_number(at) - _day_number(today)
    if day_offset == 0:
        return f"today {clock}"
    if day_offset == 1:
        return f"tomorrow {clock}"
    if day_offset == -1:
        return f"yesterday {clock}"
    label = time.strftime("%a %d %b", at).replace(" 0", " ")
    if at.tm_year != today.tm_year:
        label += f" {at.tm_year}"
    return f"{label} {clock}"


def _day_number(t: time.struct_time) -> int:
    """Days since the epoch of the local calendar date of `t`."""
    return int(time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 12, 0, 0, 0, 0, -1)) // 86_400)
