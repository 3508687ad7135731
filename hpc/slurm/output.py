"""Slurm's output as text: its bytes decoded on purpose, never with a strict codec.

Slurm keeps a job's name and comment as whatever bytes the submitter gave and prints them
raw, even inside its JSON (`squeue --json`, slurmrestd): any user can make the queue
invalid UTF-8. So nothing here decodes strictly, and each use picks its policy:
- `decode` (surrogateescape), for data: each byte that is not UTF-8 becomes a lone surrogate
  U+DC80..U+DCFF and `raw_bytes` gives the exact bytes back;
- `readable` (backslashreplace), for messages (stderr, errors) that are printed or recorded;
- `shown`, for a byte-faithful string on its way to a terminal, a page or a database: bytes
  that are not UTF-8 as `\\xNN`, control characters escaped; always valid, printable text.
Job names are never stored (an import keeps job ids and numbers; see `hpc.slurm.accounting`).
"""

from __future__ import annotations

import json
from typing import Any

ENCODING = "utf-8"


def decode(raw: bytes) -> str:
    """Slurm's bytes as a byte-faithful str (`raw_bytes` inverts it exactly)."""
    return raw.decode(ENCODING, "surrogateescape")


def raw_bytes(text: str) -> bytes:
    """The bytes Slurm gave for a `decode`d string."""
    return text.encode(ENCODING, "surrogateescape")


def readable(raw: bytes) -> str:
    """Slurm's bytes as a message: valid text, with a byte that is not UTF-8 as `\\xNN`."""
    return raw.decode(ENCODING, "backslashreplace")


def load_json(raw: bytes) -> Any:
    """Slurm's JSON, which may hold bytes that are not UTF-8 inside its strings (byte-faithful).

    Raises `ValueError` (json.JSONDecodeError) for what is not JSON at all."""
    return json.loads(decode(raw))


def is_utf8(text: str) -> bool:
    """False for a str that holds a lone surrogate (bytes that were not UTF-8)."""
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def shown(text: str) -> str:
    """Untrusted text for people: printable, valid UTF-8, nothing raw (`caf\\xe9`, `a\\nb`)."""
    if text.isprintable():
        return text
    return "".join(_shown_char(c) for c in text)


def _shown_char(c: str) -> str:
    if c.isprintable():
        return c
    if "\udc80" <= c <= "\udcff":  # a byte that was not UTF-8 (see `decode`)
        return f"\\x{ord(c) - 0xDC00:02x}"
    if "\ud800" <= c <= "\udfff":  # any other lone surrogate cannot be encoded at all
        return "\ufffd"
    return repr(c)[1:-1]
