"""A progress bar for long commands, on stderr, only where a person watches: a terminal, not
`--json`, not `--quiet`. The work itself reports through a plain `advance(n)` callback, so
nothing below `schedsight/` knows a bar exists.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Advance = Callable[[int], None]
WIDTH = 30  # characters of bar


def shows_progress(args: argparse.Namespace, stream: TextIO | None = None) -> bool:
    """True on a terminal, unless the output is JSON or the user asked for quiet."""
    stream = stream or sys.stderr
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return False
    return stream.isatty()


@contextmanager
def progress_for(
    args: argparse.Namespace, *, total: int, what: str, stream: TextIO | None = None
) -> Iterator[Advance]:
    """`advance(n)` moves the bar n steps of `total`; a no-op where no one watches."""
    out = stream or sys.stderr
    if not shows_progress(args, out) or total <= 0:
        yield lambda n: None
        return
    done = 0
    started = time.monotonic()

    def advance(n: int) -> None:
        nonlocal done
        done = min(total, done + n)
        filled = WIDTH * done // total
        bar = "#" * filled + "." * (WIDTH - filled)
        elapsed = time.monotonic() - started
        out.write(f"\r{what} [{bar}] {done}/{total} {elapsed:5.1f} s")
        out.flush()

    advance(0)
    try:
        yield advance
    finally:
        out.write("\r\033[K")  # the bar goes; what the command prints stays
        out.flush()
