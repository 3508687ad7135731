"""Progress bars: on a terminal only; never under --json, --quiet, or into a pipe."""

from __future__ import annotations

import argparse
import io

from schedsight.progress import progress_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO, **flags: bool) -> str:
    args = argparse.Namespace(**({"json": False, "quiet": False} | flags))
    with progress_for(args, total=4, what="policies", stream=stream) as advance:
        for _ in range(4):
            advance(1)
    return stream.getvalue()


def test_a_terminal_sees_the_bar_and_it_is_cleared_at_the_end() -> None:
    shown = _run(Terminal())
    assert "policies [" in shown and "4/4" in shown
    assert shown.endswith("\r\033[K")


def test_a_pipe_json_or_quiet_see_nothing() -> None:
    assert _run(io.StringIO()) == ""
    assert _run(Terminal(), json=True) == ""
    assert _run(Terminal(), quiet=True) == ""
