"""A QOS change (`sacctmgr modify qos NAME set KEY=VALUE`): what it says, and sending it
safely, as `hpc.slurm.actions` does for job actions: remit check, audit before and after.

A QOS is shared: every account whose associations may use it feels a change. So the remit
must cover each of them (read live from `sacctmgr show assoc`), not just one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hpc.slurm.actions import AuditSink
from hpc.slurm.errors import SlurmCommandError, SlurmError
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff, with_retry

KIND = "qos"
# The site-change grammar's keys (`hpc.site.changes`) -> sacctmgr's names.
SETTINGS = {
    "priority": "Priority",
    "maxwall": "MaxWall",
    "maxtrespu": "MaxTRESPerUser",
    "maxtrespa": "MaxTRESPerAccount",
    "grptres": "GrpTRES",
    "maxjobspu": "MaxJobsPerUser",
}
_NAME = re.compile(r"^[\w.-]+$")
_VALUE = re.compile(r"^[\w.,=/:-]+$")


@runtime_checkable
class TextCommands(Protocol):
    """What sends a command: the cli backend (`CliBackend.text`, through its prefix)."""

    name: str

    def text(self, argv: Sequence[str]) -> str: ...


@dataclass(frozen=True, slots=True)
class QosChange:
    """Settings (sacctmgr names, `SETTINGS`' values) of one QOS to change."""

    qos: str
    settings: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not _NAME.match(self.qos):
            raise SlurmError(f"QOS name {self.qos!r}: letters, digits, '.', '_' and '-' only")
        if not self.settings:
            raise SlurmError(f"QOS {self.qos}: nothing to change")
        for key, value in self.settings:
            if key not in SETTINGS.values():
                raise SlurmError(
                    f"QOS {self.qos}: {key!r} is not one of {', '.join(SETTINGS.values())}"
                )
            if not _VALUE.match(value):
                raise SlurmError(f"QOS {self.qos}: {key}={value!r} is not a sacctmgr value")

    @classmethod
    def from_change_line(cls, line: str) -> QosChange:
        """From a site-change line `qos NAME KEY=VALUE` (`hpc.site.changes`)."""
        words = line.split()
        if len(words) < 3 or words[0].lower() != "qos":
            raise SlurmError(f"not a QOS change line: {line!r}")
        key, _, value = " ".join(words[2:]).partition("=")
        if key.strip().lower() not in SETTINGS:
            raise SlurmError(f"QOS change {line!r}: {key!r} has no sacctmgr name")
        return cls(words[1], ((SETTINGS[key.strip().lower()], value.strip()),))

    def argv(self) -> list[str]:
        sets = [f"{k}={v}" for k, v in self.settings]
        return ["sacctmgr", "-i", "modify", "qos", "where", f"name={self.qos}", "set", *sets]

    def describe(self) -> str:
        return " ".join(a for a in self.argv() if a != "-i")

    def as_action(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "qos": self.qos,
            "set": dict(self.settings),
            "command": self.describe(),
        }

    @classmethod
    def from_action(cls, action: Mapping[str, Any]) -> QosChange | None:
        """The change a stored proposal holds; None for any other kind."""
        if action.get("kind") != KIND:
            return None
        return cls(str(action["qos"]), tuple((str(k), str(v)) for k, v in action["set"].items()))


def qos_accounts(backend: TextCommands, qos: str) -> list[str]:
    """The accounts with an association that may use `qos` (sacctmgr's associations)."""
    text = backend.text(["sacctmgr", "-P", "-n", "show", "assoc", "format=Account,QOS"])
    accounts = set()
    for line in text.splitlines():
        account, _, allowed = line.partition("|")
        if account and qos in allowed.split(","):
            accounts.add(account)
    return sorted(accounts)


def apply_qos_change(
    backend: TextCommands,
    change: QosChange,
    *,
    remit: Remit,
    audit: AuditSink,
    backoff: Backoff,
) -> None:
    """Send `change` if the remit covers every account that uses the QOS; audited."""
    target, params = f"qos:{change.qos}", {"set": dict(change.settings)}
    accounts = with_retry(
        lambda: qos_accounts(backend, change.qos),
        backoff,
        what=f"reading who uses QOS {change.qos}",
    )
    outside = [a for a in accounts if not remit.any_account and a not in remit.accounts]
    reason = None
    if not accounts:
        reason = f"refused QOS {change.qos}: no association uses it (or it does not exist)"
    elif outside:
        reason = (
            f"refused QOS {change.qos}: accounts {', '.join(outside)} use it and are "
            "outside the remit (SCHEDSIGHT_SLURM_ACCOUNTS)"
        )
    if reason is not None:
        audit.refused(
            action=KIND, target=target, params=params, backend=backend.name, reason=reason
        )
        raise SlurmError(reason)
    intent = audit.intent(action=KIND, target=target, params=params, backend=backend.name)
    try:
        out = with_retry(lambda: backend.text(change.argv()), backoff, what=change.describe())
        if "nothing modified" in out.lower():
            raise SlurmCommandError(
                "sacctmgr", f"QOS {change.qos}: nothing modified ({out.strip()})"
            )
    except SlurmError as exc:
        audit.outcome(intent, ok=False, detail=str(exc))
        raise
    audit.outcome(intent, ok=True, detail=f"{change.describe()}: {' '.join(out.split())[:200]}")
