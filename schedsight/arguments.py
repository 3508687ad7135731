"""Command-line values checked where they enter: bounded integers, finite floats, and a parser
that reports a bad argument in one line (exit status 2), as every other user error.

The bounds are sanity limits, far above real use, that keep absurd values from reaching code
that would allocate terabytes or overflow an int64 (`generate --jobs 10**12`, `--w-age nan`).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import NoReturn

MAX_JOBS = 10_000_000  # a generated workload; the largest archived traces hold a few million
MAX_PROCS = 100_000_000  # processors of a machine (the SWF reader's bound too)
MAX_NODES = 10_000_000
MAX_CORES_PER_NODE = 100_000
MAX_MEM_PER_NODE_MB = 1_000_000_000  # 1 PB
MAX_SEED = 2**63 - 1  # stored in a BIGINT column
MAX_ID = 2**63 - 1  # job numbers and database ids
MAX_HOURS = 24.0 * 366 * 10  # ten years
# hpc.workload.cleaning.Estimate's values, spelled out so that building the parser loads no
# domain code (tests/schedsight/test_startup.py keeps the two in step).
ESTIMATES = ("requested", "actual")


class CliError(Exception):
    """A problem with the command line itself (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `schedsight generate: error: ... (see --help)`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number within lo..hi."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"expected a whole number within {lo:,}..{hi:,}, got {_shown(text)}"
            )
        return value

    parse.__name__ = "integer"  # what argparse names in its own messages
    return parse


def float_in(lo: float, hi: float, *, open_low: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within lo..hi (above lo with `open_low`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low_ok = value > lo if open_low else value >= lo
        if not (math.isfinite(value) and low_ok and value <= hi):
            bound = f"above {lo:g}" if open_low else f"at least {lo:g}"
            raise argparse.ArgumentTypeError(
                f"expected a finite number {bound} and at most {hi:g}, got {_shown(text)}"
            )
        return value

    parse.__name__ = "number"
    return parse


def site_ref(text: str) -> tuple[str, int | None]:
    """An argparse type: a stored site as NAME or NAME@VERSION (None: the latest version)."""
    name, at, version = text.partition("@")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", name) or (at and not version.isdigit()):
        raise argparse.ArgumentTypeError(
            f"expected NAME or NAME@VERSION (a number), got {_shown(text)}"
        )
    return name, int(version) if at else None


def _shown(text: str) -> str:
    # A 10,000-digit argument should not become a 10,000-character error line.
    return repr(text if len(text) <= 40 else text[:37] + "...")


def cluster_name(text: str) -> str:
    """A Slurm cluster name as `--cluster` takes it (letters, digits, `_.-`)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Slurm cluster name")
    return text
