"""Approvals: a job action goes through the Slurm backend within the remit, audited."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest
from pydantic import SecretStr

from dashboard.approvals import NotAdminError, SlurmSide, approve, reject, slurm_action
from db.audit import list_audit
from db.decisions import get_decision, record_decision
from db.session import transaction
from db.store import Store
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff
from hpc.slurm.state import LiveJob
from schedsight.settings import Settings
from tests.dashboard.conftest import ADMIN_TOKEN


class FakeSlurm:
    name = "fake"

    def __init__(self) -> None:
        self.sent: list[tuple[int, Action]] = []

    def jobs(self, job_ids: Collection[int] | None = None) -> list[LiveJob]:
        return [LiveJob(7, "j", "alice", "physics", "batch", "PENDING", "Priority", 0)]

    def apply(self, job_id: int, action: Action) -> None:
        self.sent.append((job_id, action))


SECRET = SecretStr(ADMIN_TOKEN)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(Settings(data_dir=tmp_path).resolved_database_url())


def _propose(store: Store, action: dict[str, object]) -> int:
    with transaction(store.sessions) as s:
        return record_decision(s, question="q", proposal={"action": action}, rationale="r",
                               objectives={}, guard_verdict="accepted").id  # fmt: skip


def test_an_approved_hold_is_sent_to_slurm_and_audited(store: Store) -> None:
    fake = FakeSlurm()
    side = SlurmSide(lambda: fake, Remit.of(["physics"], ["batch"]), Backoff(attempts=1))  # type: ignore[arg-type,return-value]
    decision_id = _propose(store, {"kind": "hold", "job_id": 7})
    message = approve(store, decision_id, token=ADMIN_TOKEN, admin_token=SECRET, slurm=side)
    assert "hold sent to job 7" in message
    assert fake.sent == [(7, Action(ActionKind.HOLD))]
    with transaction(store.sessions) as s:
        assert get_decision(s, decision_id=decision_id).status.value == "applied"
        assert [e.result for e in list_audit(s)] == ["ok", "intent"]


def test_outside_the_remit_nothing_is_sent(store: Store) -> None:
    fake = FakeSlurm()
    side = SlurmSide(lambda: fake, Remit.of([], []), Backoff(attempts=1))  # type: ignore[arg-type,return-value]
    decision_id = _propose(store, {"kind": "release", "job_id": 7})
    message = approve(store, decision_id, token=ADMIN_TOKEN, admin_token=SECRET, slurm=side)
    assert "Slurm refused it" in message
    assert fake.sent == []
    with transaction(store.sessions) as s:
        assert get_decision(s, decision_id=decision_id).status.value == "failed"
        assert [e.result for e in list_audit(s)] == ["refused"]


def test_a_wrong_or_missing_secret_decides_nothing(store: Store) -> None:
    decision_id = _propose(store, {"kind": "set_policy", "policy": "sjf:easy"})
    with pytest.raises(NotAdminError):
        reject(store, decision_id, token="guess", admin_token=SECRET)
    with pytest.raises(NotAdminError, match="disabled"):
        reject(store, decision_id, token="", admin_token=SecretStr(""))
    with transaction(store.sessions) as s:
        assert get_decision(s, decision_id=decision_id).status.value == "proposed"


def test_only_job_actions_map_to_slurm() -> None:
    assert slurm_action({"kind": "set_policy", "policy": "sjf:easy"}) is None
    assert slurm_action({"kind": "priority", "job_id": 3, "value": 9}) == (
        3,
        Action(ActionKind.PRIORITY, 9),
    )


def test_an_approved_slurm_conf_change_is_recorded_and_its_diff_handed_over(
    store: Store,
) -> None:
    from hpc.slurm.conf_change import ConfChange

    fake = FakeSlurm()
    side = SlurmSide(lambda: fake, Remit.everything(), Backoff(attempts=1))  # type: ignore[arg-type,return-value]
    change = ConfChange({"SchedulerType": "sched/backfill"}, {"SchedulerType": "sched/builtin"},
                        "site lab@1")  # fmt: skip
    decision_id = _propose(store, change.as_action())
    message = approve(store, decision_id, token=ADMIN_TOKEN, admin_token=SECRET, slurm=side)
    assert "nothing was applied" in message and message.endswith(change.diff())
    assert "+SchedulerType=sched/builtin" in message
    assert fake.sent == []
    with transaction(store.sessions) as s:
        assert get_decision(s, decision_id=decision_id).status.value == "approved"
        (note,) = list_audit(s)
        assert note.action == "approve" and "-SchedulerType=sched/backfill" in (note.detail or "")


def test_a_qos_change_needs_a_backend_that_runs_sacctmgr(store: Store) -> None:
    fake = FakeSlurm()
    side = SlurmSide(lambda: fake, Remit.everything(), Backoff(attempts=1))  # type: ignore[arg-type,return-value]
    action = {"kind": "qos", "qos": "normal", "set": {"Priority": "10"}}
    decision_id = _propose(store, action)
    message = approve(store, decision_id, token=ADMIN_TOKEN, admin_token=SECRET, slurm=side)
    assert "the fake backend does not run" in message
    with transaction(store.sessions) as s:
        assert get_decision(s, decision_id=decision_id).status.value == "failed"
