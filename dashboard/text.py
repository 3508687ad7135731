"""Text from users, the model, Slurm or a link, made safe to show where Streamlit renders markdown
(st.markdown, captions, alerts and widget labels): it then reads as typed, never as a link,
an image, a heading, LaTeX or a colour directive.
"""

from __future__ import annotations

import re

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
