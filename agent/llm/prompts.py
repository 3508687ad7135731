"""Untrusted text in prompts: quoted as data, never spliced in as instructions.

Job names, comments and scripts come from users of the cluster, not from its admins. They
reach the model only as JSON string literals, cut short, with control characters and the
chat template's special markers removed, after a system prompt that says they are data.
"""

from __future__ import annotations

import json
import re

MAX_QUOTED = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MARKERS = re.compile(r"<\|[^|>]*\|>|<\/?(?:system|user|assistant|tool)[^>]*>", re.IGNORECASE)


def quote(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` as a short JSON string literal that cannot close its quotes or fake a turn."""
    clean = _MARKERS.sub("", _CONTROL.sub(" ", text))
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return json.dumps(clean, ensure_ascii=False)
