"""A QOS change: read from a site-change line, sent by sacctmgr only where the remit covers
every account that uses the QOS, and audited; on the real dev cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from db.audit import AuditTrail, list_audit
from hpc.slurm.actions import MemoryAudit
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import SlurmError
from hpc.slurm.qos_change import QosChange, apply_qos_change, qos_accounts
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff

ONCE = Backoff(attempts=1)


def test_a_change_line_becomes_a_sacctmgr_command() -> None:
    change = QosChange.from_change_line("qos normal MaxTRESPA=cpu=64")
    assert change == QosChange("normal", (("MaxTRESPerAccount", "cpu=64"),))
    assert change.argv() == ["sacctmgr", "-i", "modify", "qos", "where", "name=normal", "set",
                             "MaxTRESPerAccount=cpu=64"]  # fmt: skip
    assert change.describe() == "sacctmgr modify qos where name=normal set MaxTRESPerAccount=cpu=64"
    assert QosChange.from_action(change.as_action()) == change
    assert QosChange.from_action({"kind": "hold", "job_id": 1}) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: QosChange("no rm", (("Priority", "1"),)), "letters, digits"),
        (lambda: QosChange("normal", (("Flags", "DenyOnLimit"),)), "is not one of"),
        (lambda: QosChange("normal", (("Priority", "1; rm -rf /"),)), "not a sacctmgr value"),
        (lambda: QosChange.from_change_line("qos normal Preempt=x"), "no sacctmgr name"),
    ],
)
def test_bad_changes_are_refused_before_anything_runs(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SlurmError, match=message):
        make()


@pytest.fixture
def normal_priority(slurm_cluster: str) -> Iterator[str]:
    """QOS normal's priority, put back after the test."""
    show = ["sacctmgr", "-P", "-n", "show", "qos", "where", "name=normal", "format=Priority"]
    before = subprocess.run(show, capture_output=True, text=True, check=True).stdout.strip()
    yield before
    subprocess.run(["sacctmgr", "-i", "modify", "qos", "where", "name=normal", "set",
                    f"Priority={before or 0}"], capture_output=True, check=True)  # fmt: skip


@pytest.mark.slurm
def test_a_qos_used_outside_the_remit_is_refused_and_audited(
    normal_priority: str, audit: AuditTrail
) -> None:
    cli = CliBackend()
    assert {"physics", "chemistry"} <= set(qos_accounts(cli, "normal"))
    change = QosChange("normal", (("Priority", str(int(normal_priority or 0) + 7)),))
    with pytest.raises(SlurmError, match="outside the remit"):
        apply_qos_change(cli, change, remit=Remit.of(["physics"], ["batch"]), audit=audit,
                         backoff=ONCE)  # fmt: skip
    with audit.sessions() as session:
        assert [e.result for e in list_audit(session)] == ["refused"]
    show = ["sacctmgr", "-P", "-n", "show", "qos", "where", "name=normal", "format=Priority"]
    assert subprocess.run(show, capture_output=True, text=True).stdout.strip() == normal_priority


@pytest.mark.slurm
def test_a_qos_change_within_the_remit_is_sent_and_audited(
    normal_priority: str, audit: AuditTrail
) -> None:
    cli = CliBackend()
    wanted = str(int(normal_priority or 0) + 7)
    remit = Remit(frozenset(qos_accounts(cli, "normal")), any_partition=True)
    apply_qos_change(cli, QosChange("normal", (("Priority", wanted),)), remit=remit,
                     audit=audit, backoff=ONCE)  # fmt: skip
    show = ["sacctmgr", "-P", "-n", "show", "qos", "where", "name=normal", "format=Priority"]
    assert subprocess.run(show, capture_output=True, text=True).stdout.strip() == wanted
    with audit.sessions() as session:
        assert [e.result for e in list_audit(session)] == ["ok", "intent"]


@pytest.mark.slurm
def test_a_qos_nobody_uses_is_refused(slurm_cluster: str) -> None:
    audit = MemoryAudit()
    with pytest.raises(SlurmError, match="no association uses it"):
        apply_qos_change(CliBackend(), QosChange("nosuchqos", (("Priority", "1"),)),
                         remit=Remit.everything(), audit=audit, backoff=ONCE)  # fmt: skip
    assert [e["result"] for e in audit.entries] == ["refused"]
