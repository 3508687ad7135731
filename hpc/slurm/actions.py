"""Acting on a cluster safely: remit check, audit before and after, retry, idempotent submit.

Every change goes: look the job up -> refuse it outside the remit (or where Slurm would do
more than asked) -> record the intent -> send it (retrying while the controller does not
answer) -> record the outcome. An outcome is "ok" only when Slurm said so; a failure or a
give-up is recorded as "error" and raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from hpc.slurm.backend import SlurmBackend
from hpc.slurm.errors import ControllerUnreachableError, SlurmCommandError, SlurmError
from hpc.slurm.job_action import Action as Action
from hpc.slurm.job_action import ActionKind as ActionKind
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff, with_retry
from hpc.slurm.spec import JobSpec, new_token, tag_comment
from hpc.slurm.state import LiveJob

TOKEN_LOOKBACK_S = 7 * 86400  # how far back accounting is searched for a submit's token
CLOCK_SLACK_S = 3600  # the controller's clock may run this far behind ours


def check_keeps_hold(job_id: int, job: LiveJob, action: Action) -> None:
    """Refuse a nice on a held job (`job` is `job_id` or one of its array's tasks).

    Slurm 22.05 releases a held job when its nice changes, through scontrol and slurmrestd
    alike, even when the same request also asks for the hold (checked on the dev cluster).
    Holding it again afterwards would leave a moment in which it may start, and would turn
    a user hold into an admin hold; so nothing is sent, and the user decides.
    """
    if action.kind is ActionKind.NICE and job.held:
        raise SlurmError(
            f"job {job_id} is held ({job.reason}), and Slurm releases a held job when its "
            f"nice changes, so nothing was sent: to nice it, release it first (`schedsight "
            f"slurm apply {job_id} release`; it may then start), or leave it held"
        )


class AuditSink(Protocol):
    """Where actions are recorded; the intent must be durable before the action is sent."""

    def intent(self, *, action: str, target: str, params: dict[str, Any], backend: str) -> int:
        """Record that `action` is about to be sent; an id for its outcome."""
        ...

    def outcome(self, intent_id: int, *, ok: bool, detail: str) -> None: ...

    def refused(
        self, *, action: str, target: str, params: dict[str, Any], backend: str, reason: str
    ) -> None:
        """Record an action refused before anything was sent (outside the remit)."""
        ...


def apply_action(
    backend: SlurmBackend,
    job_id: int,
    action: Action,
    *,
    remit: Remit,
    audit: AuditSink,
    backoff: Backoff,
) -> None:
    """Apply `action` to job `job_id` (for an array: all its tasks), audited, within remit."""
    target, params = f"job:{job_id}", {"action": action.kind.value, "value": action.value}
    jobs = with_retry(lambda: backend.jobs([job_id]), backoff, what=f"looking up job {job_id}")
    if not jobs:
        raise SlurmError(
            f"job {job_id} is not in the controller's queue (finished long ago, or never "
            "existed): nothing to change"
        )
    for job in jobs:
        try:
            remit.check_job(job)
            check_keeps_hold(job_id, job, action)
        except SlurmError as exc:
            audit.refused(
                action=action.kind.value,
                target=target,
                params=params,
                backend=backend.name,
                reason=str(exc),
            )
            raise
    if not any(j.pending for j in jobs):
        # Every action here changes how or when a job starts: on a running or finished
        # job Slurm accepts some of them and nothing happens.
        raise SlurmError(
            f"job {job_id} is {jobs[0].state.lower()}: {action.kind.value} only affects "
            "pending jobs, nothing was sent"
        )
    intent = audit.intent(
        action=action.kind.value, target=target, params=params, backend=backend.name
    )
    try:
        with_retry(
            lambda: backend.apply(job_id, action), backoff, what=f"{action.describe()} job {job_id}"
        )
    except SlurmError as exc:
        audit.outcome(intent, ok=False, detail=str(exc))
        raise
    audit.outcome(intent, ok=True, detail=f"{action.describe()} sent to job {job_id}")


@dataclass(frozen=True, slots=True)
class SubmitResult:
    job_id: int
    token: str
    created: bool  # False: a job with this token already existed (a retried submit)


def find_by_token(backend: SlurmBackend, token: str, *, since_s: int | None = None) -> int | None:
    """The job submitted with this client token: in the controller, else in accounting.

    `since_s`: no job can carry the token from before then (the token was made then), so
    accounting is searched from there; None: the last TOKEN_LOOKBACK_S.
    """
    for job in backend.jobs():
        if job.token == token:
            return job.array_job_id or job.job_id
    start_s = since_s if since_s is not None else int(time.time()) - TOKEN_LOOKBACK_S
    try:
        records = backend.history(start_s=start_s)
    except SlurmCommandError:
        return None  # no accounting here: the controller's view is all there is
    for record in records:
        if record.token == token:
            return record.array_job_id or record.job_id
    return None


def submit_idempotent(
    backend: SlurmBackend,
    spec: JobSpec,
    *,
    remit: Remit,
    audit: AuditSink,
    backoff: Backoff,
    token: str | None = None,
) -> SubmitResult:
    """Submit `spec` once, whatever happens in between: each attempt (and a later call with
    the same `token`) first looks for a job carrying the token and returns it if found.

    A token made here cannot be on any job before this call's first attempt is sent, so
    that attempt skips the search, and later ones search accounting only from this call's
    start (a full search reads every user's jobs of the last week: slow on a busy cluster).
    """
    fresh = token is None
    since_s = int(time.time()) - CLOCK_SLACK_S if fresh else None
    token = token or new_token()
    target = f"token:{token}"
    params = {"name": spec.name, "account": spec.account, "partition": spec.partition}
    try:
        remit.check_spec(spec)
    except SlurmError as exc:
        audit.refused(
            action="submit", target=target, params=params, backend=backend.name, reason=str(exc)
        )
        raise
    comment = tag_comment(spec.comment, token)

    sent = False  # whether an attempt may have reached the controller

    def attempt() -> tuple[int, bool]:
        nonlocal sent
        if sent or not fresh:
            existing = find_by_token(backend, token, since_s=since_s)
            if existing is not None:
                return existing, False
        sent = True  # from here on, even if the call fails, the job may exist
        return backend.submit(spec, comment=comment), True

    intent = audit.intent(action="submit", target=target, params=params, backend=backend.name)
    try:
        job_id, created = with_retry(attempt, backoff, what=f"submitting {spec.name!r}")
    except ControllerUnreachableError as exc:
        if not sent:
            audit.outcome(intent, ok=False, detail=str(exc))
            raise
        # A submit went out and its answer never came back: the job may exist.
        unknown = ControllerUnreachableError(
            f"submitting {spec.name!r}: a submit was sent, but Slurm's answer never came "
            f"({exc.__cause__ or exc}), so a job may exist: run again with --token {token} "
            "to find it (it is submitted only if it is not there)"
        )
        audit.outcome(intent, ok=False, detail=str(unknown))
        raise unknown from exc
    except SlurmError as exc:
        audit.outcome(intent, ok=False, detail=str(exc))
        raise
    how = "submitted as" if created else "already submitted as"
    audit.outcome(intent, ok=True, detail=f"{how} job {job_id}")
    return SubmitResult(job_id, token, created)


class MemoryAudit:
    """An audit sink in memory (for tools and tests without a database)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def intent(self, *, action: str, target: str, params: dict[str, Any], backend: str) -> int:
        self.entries.append(
            {"action": action, "target": target, "params": params, "result": "intent"}
        )
        return len(self.entries) - 1

    def outcome(self, intent_id: int, *, ok: bool, detail: str) -> None:
        first = self.entries[intent_id]
        self.entries.append({**first, "result": "ok" if ok else "error", "detail": detail})

    def refused(
        self, *, action: str, target: str, params: dict[str, Any], backend: str, reason: str
    ) -> None:
        self.entries.append(
            {
                "action": action,
                "target": target,
                "params": params,
                "result": "refused",
                "detail": reason,
            }
        )
