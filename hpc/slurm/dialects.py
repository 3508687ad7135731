"""The JSON dialects schedsight reads, one row per Slurm data version, in one table.

Both backends look versions up here: the command-line backend by what the tools offer
(`squeue --json=list`, 23.02+) or declare (`meta.plugin`), the REST backend by the API
versions in slurmrestd's OpenAPI document. Each takes the newest version both sides know.
A new Slurm release is added once: a row here (and an adapter module if its JSON changed
shape), its recordings under tests/hpc/slurm/data/releases, and a line in the README table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from hpc.slurm import json_v0038, json_v0039
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.errors import SlurmDataError
from hpc.slurm.json_common import Json, data_version, release, version_key
from hpc.slurm.state import LiveJob, Node, Partition


class JsonAdapter(Protocol):
    """Reads one data version's documents into schedsight's types (a module satisfies it)."""

    def release(self, doc: Json) -> str: ...
    def controllers_up(self, doc: Json) -> bool: ...
    def parse_jobs(self, doc: Json) -> list[LiveJob]: ...
    def parse_nodes(self, doc: Json) -> list[Node]: ...
    def parse_partitions(self, doc: Json) -> list[Partition]: ...
    def parse_accounting(self, doc: Json) -> list[AccountingRecord]: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """One data version: what reads it, the release that introduced it, what its CLI can do."""

    version: str  # "v0.0.42": slurmrestd's API version and the CLI's data_parser
    release: str  # the Slurm release whose default it is ("24.11")
    adapter: JsonAdapter
    cli_filters: bool  # squeue --json honours -j/-u/-t/-p (22.05 ignores them)
    cli_nodes: tuple[str, ...]  # the command whose JSON lists nodes one by one


def _since_23_02(version: str, release: str) -> Dialect:
    return Dialect(version, release, json_v0039, True, ("scontrol", "show", "nodes"))


DIALECTS: tuple[Dialect, ...] = (
    Dialect("v0.0.38", "22.05", json_v0038, False, ("sinfo",)),
    _since_23_02("v0.0.39", "23.02"),
    _since_23_02("v0.0.40", "23.11"),
    _since_23_02("v0.0.41", "24.05"),
    _since_23_02("v0.0.42", "24.11"),
    _since_23_02("v0.0.43", "25.05"),
    _since_23_02("v0.0.44", "25.11"),
    _since_23_02("v0.0.45", "26.05"),
)
BY_VERSION: Mapping[str, Dialect] = {d.version: d for d in DIALECTS}


def known() -> str:
    """What schedsight reads, for messages: "v0.0.38 to v0.0.45 (Slurm 22.05 to 26.05)"."""
    first, last = DIALECTS[0], DIALECTS[-1]
    return f"{first.version} to {last.version} (Slurm {first.release} to {last.release})"


def newest_known(offered: Iterable[str], *, where: str) -> Dialect:
    """The newest of the `offered` versions that schedsight reads; a clear error naming both
    sides when there is none (`where`: "slurmrestd", "the Slurm tools")."""
    offered = sorted(set(offered), key=version_key)
    usable = [v for v in offered if v in BY_VERSION]
    if not usable:
        raise SlurmDataError(
            f"{where} offers {', '.join(offered) or 'no API versions'}; this version of "
            f"schedsight reads {known()}: upgrade schedsight, or ask Slurm for an older "
            "version if it still offers one"
        )
    return BY_VERSION[usable[-1]]


def dialect_of(doc: Json, *, what: str) -> Dialect:
    """The dialect a document declares in its `meta`; an error for one schedsight lacks."""
    version = data_version(doc)
    if version is not None and version in BY_VERSION:
        return BY_VERSION[version]
    try:
        written_by = f"Slurm {release(doc)}"
    except SlurmDataError:
        written_by = "an unknown Slurm release"
    raise SlurmDataError(
        f"{what} speaks {version or 'an unknown data version'} ({written_by}); this version "
        f"of schedsight reads {known()}"
    )
