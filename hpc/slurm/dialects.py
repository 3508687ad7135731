"""The JSON dialects schedsight reads, one adapter per Slurm data version, in one table.

Both the command-line backend (which sees `meta.plugin.type`, e.g. "openapi/v0.0.38") and
the REST backend (which picks an API version, e.g. "v0.0.38") look adapters up here, so a
new Slurm release's adapter is added once: a module implementing `JsonAdapter`, plus a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hpc.slurm import json_v0038
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.state import LiveJob, Node, Partition

Json = Mapping[str, Any]


class JsonAdapter(Protocol):
    """Reads one data version's documents into schedsight's types (a module satisfies it)."""

    def release(self, doc: Json) -> str: ...
    def parse_jobs(self, doc: Json) -> list[LiveJob]: ...
    def parse_nodes(self, doc: Json) -> list[Node]: ...
    def parse_partitions(self, doc: Json) -> list[Partition]: ...
    def parse_accounting(self, doc: Json) -> list[AccountingRecord]: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """One data version: its REST API version, the plugin types the tools print, its reader."""

    api_version: str  # slurmrestd's, "v0.0.38"
    plugin_types: tuple[str, ...]  # `meta.plugin.type` of sinfo/squeue/sacct --json
    adapter: JsonAdapter
    releases: str  # the Slurm releases that speak it, for messages


DIALECTS: tuple[Dialect, ...] = (
    Dialect("v0.0.38", ("openapi/v0.0.38", "openapi/dbv0.0.38"), json_v0038, "Slurm 22.05"),
)

BY_PLUGIN: Mapping[str, JsonAdapter] = {p: d.adapter for d in DIALECTS for p in d.plugin_types}
BY_API_VERSION: Mapping[str, JsonAdapter] = {d.api_version: d.adapter for d in DIALECTS}


def releases() -> str:
    """The Slurm releases whose JSON schedsight reads, for messages."""
    return ", ".join(d.releases for d in DIALECTS)
