"""Text from users, the model, Slurm or a link, made safe to show where Streamlit renders markdown
(st.markdown, captions, alerts and widget labels): it then reads as typed, never as a link,
an image, a heading, LaTeX or a colour directive. And table rows with their durations as
people read them (`2 h 05 min`, `hpc.timetext`), not raw seconds.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any

from hpc.timetext import span_text

# CommonMark lets a backslash escape any ASCII punctuation; escaping all of it is simpler to
# trust than a list of today's markdown syntax (Streamlit adds $math$, :colour[...] and
# :emoji: on top, and GFM turns bare www.x.y and http://x into links).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# A line break would let the rest start a new block (a heading, a list, indented code), and
# control characters have no business on a page.
_BREAKS_AND_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def escape_markdown(text: object) -> str:
    """`text` as one line of markdown that renders literally."""
    flat = _BREAKS_AND_CONTROLS.sub(" ", str(text))
    return _PUNCTUATION.sub(r"\\\1", flat)


def clip(text: object, limit: int) -> str:
    """The first `limit` characters of `text` (escape after clipping, never before)."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


# A field in seconds: `mean_wait_s`, `p95_wait_s_after` (the unit before a before/after).
_SECONDS = re.compile(r"_s(?=_|$)")


def with_spans(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`rows` for a table: each number of a field in seconds as a span people read
    (`2 h 05 min`; `-` where unknown), the field named without its `_s`."""
    out = []
    for row in rows:
        shown: dict[str, Any] = {}
        for key, value in row.items():
            if _SECONDS.search(key) is None or isinstance(value, bool):
                shown[key] = value
            elif isinstance(value, numbers.Real):
                shown[_SECONDS.sub("", key)] = "-" if math.isnan(value) else span_text(float(value))
            else:
                shown[_SECONDS.sub("", key)] = "-" if value is None else value
        out.append(shown)
    return out
