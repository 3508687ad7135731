"""The table of Slurm backends: name -> how to open one. Settings validation, the CLI's
`--backend` choices and the tests all read it, so a backend is named in one place.

Factories import their backend lazily: pyslurm and httpx load only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpc.slurm.errors import SlurmError

if TYPE_CHECKING:  # the interface loads with the backends themselves, not with this table
    from hpc.slurm.backend import SlurmBackend


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """What any backend may need to open; each reads only its own."""

    timeout_s: float = 30.0
    rest_url: str = ""  # `unix:/path/to.sock` or `http://127.0.0.1:6820`
    rest_user: str | None = None
    rest_token: str | None = None  # a JWT from `scontrol token`
    command_prefix: tuple[str, ...] = ()  # the cli backend's: ("ssh", "login1"), ...
    cluster: str | None = None  # one cluster of a multi-cluster site; None: the local one


@dataclass(frozen=True, slots=True)
class BackendEntry:
    name: str
    description: str
    open: Callable[[BackendOptions], SlurmBackend]


def _cli(options: BackendOptions) -> SlurmBackend:
    from hpc.slurm.cli_backend import CliBackend

    return CliBackend(
        timeout_s=options.timeout_s, prefix=options.command_prefix, cluster=options.cluster
    )


def _rest(options: BackendOptions) -> SlurmBackend:
    from hpc.slurm.rest_backend import RestBackend

    return RestBackend(
        options.rest_url,
        user=options.rest_user,
        token=options.rest_token,
        timeout_s=options.timeout_s,
        cluster=options.cluster,
    )


def _pyslurm(options: BackendOptions) -> SlurmBackend:
    from hpc.slurm.pyslurm_backend import PyslurmBackend

    return PyslurmBackend()


BACKENDS: Mapping[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry("cli", "the Slurm command-line tools with --json", _cli),
        BackendEntry("rest", "slurmrestd over a unix socket or JWT on loopback", _rest),
        BackendEntry("pyslurm", "pyslurm, where installed and matching the cluster", _pyslurm),
    )
}


def open_backend(name: str, options: BackendOptions) -> SlurmBackend:
    """The backend called `name`; a name not in `BACKENDS` is an error, not a default."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise SlurmError(f"unknown Slurm backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return entry.open(options)
