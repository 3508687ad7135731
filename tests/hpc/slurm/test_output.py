"""Decoding Slurm's bytes: byte-faithful for data, always-valid text for people and messages."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from hpc.slurm import json_v0038
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import SlurmCommandError
from hpc.slurm.output import decode, is_utf8, load_json, raw_bytes, readable, shown

DATA = Path(__file__).parent / "data"


def test_decode_keeps_every_byte() -> None:
    raw = b"caf\xe9\xff \xed\xa0\x80 ok \xe2\x82\xac"
    text = decode(raw)
    assert raw_bytes(text) == raw and text.endswith("ok \u20ac")
    assert not is_utf8(text) and is_utf8("ok \u20ac")


def test_json_with_bytes_that_are_not_utf8_inside_a_string_parses() -> None:
    doc = load_json(b'{"name": "caf\xe9\xff", "n": 1}')
    assert raw_bytes(doc["name"]) == b"caf\xe9\xff" and doc["n"] == 1
    with pytest.raises(ValueError, match="Expecting value"):
        load_json(b"Unspecified error \xff")


def test_shown_is_printable_valid_text_that_names_each_byte() -> None:
    assert shown("plain name") == "plain name"
    assert shown(decode(b"caf\xe9\xff")) == "caf\\xe9\\xff"
    assert shown("a\nb\x1b[31m\t") == "a\\nb\\x1b[31m\\t"
    assert shown("lone \ud800 surrogate") == "lone \ufffd surrogate"  # no byte to name
    for text in ("caf\udce9", "\ud800", "a\x00b"):
        shown(text).encode("utf-8")  # never raises: safe for a terminal, a page, a database


def test_readable_turns_messages_into_valid_text() -> None:
    assert readable(b"sbatch: error: bad name caf\xe9") == "sbatch: error: bad name caf\\xe9"


def test_sacct_replaces_such_bytes_itself() -> None:
    """slurmdbd stores a byte that is not UTF-8 as '?': accounting names are lossy too."""
    doc = load_json((DATA / "sacct-22.05-non-utf8-name.json").read_bytes())
    (record,) = json_v0038.parse_accounting(doc)
    assert (record.name, record.comment) == ("caf??", "c?")


def test_a_refusal_with_such_bytes_on_stderr_is_a_readable_error() -> None:
    def runner(
        argv: Sequence[str], stdin: bytes | None, timeout_s: float
    ) -> subprocess.CompletedProcess[bytes]:
        if list(argv) == ["scontrol", "ping"]:
            return subprocess.CompletedProcess(list(argv), 0, b"Slurmctld(primary) at x is UP", b"")
        return subprocess.CompletedProcess(list(argv), 1, b"", b"scontrol: error: job caf\xe9\n")

    with pytest.raises(SlurmCommandError, match=r"error: job caf\\xe9"):
        CliBackend(runner=runner).cluster_name()
