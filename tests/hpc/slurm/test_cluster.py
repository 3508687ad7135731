"""Against the real dev cluster: submit, read back through every backend, import, act,
estimate, survive a stopped controller, and keep hostile text inert. No Slurm command is faked.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.audit import AuditTrail, list_audit
from db.session import transaction
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.actions import apply_action, find_by_token, submit_idempotent
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import BackendUnavailableError, ControllerUnreachableError, RemitError
from hpc.slurm.estimate import estimate_start, planned_start
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.retry import Backoff, with_retry
from hpc.slurm.spec import JobSpec, new_token
from hpc.slurm.state import FINISHED_STATES, LiveJob
from tests.hpc.slurm.conftest import REMIT, restart_cluster, scancel, wait_finished

pytestmark = pytest.mark.slurm
FAST = Backoff(attempts=3, first_s=0.2)
NAME = "job $(touch {c}) `touch {c}`; touch {c} | & > < 'q' \"dq\" \\ * \t\nline two"
COMMENT = "note $(touch {c})\n\"quoted\" 'single' `tick` ; && || \\n end"


@dataclass(frozen=True)
class Submitted:
    array: int
    gpu: int
    after: int
    failing: int
    hostile: int
    canary: Path
    output: Path
    argument: str
    name: str
    comment: str


def _spec(name: str, command: tuple[str, ...], **kw: object) -> JobSpec:
    fields: dict[str, object] = {"account": "physics", "partition": "batch", "time_limit_s": 300}
    return JobSpec(name=name, command=command, **(fields | kw))  # type: ignore[arg-type]


def _submit(spec: JobSpec, audit: AuditTrail | None = None) -> int:
    from hpc.slurm.actions import MemoryAudit

    sink = audit or MemoryAudit()
    return submit_idempotent(CliBackend(), spec, remit=REMIT, audit=sink, backoff=FAST).job_id


@pytest.fixture(scope="module")
def submitted(slurm_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Submitted:
    """One batch of real jobs for the read-back tests: array, GPU, dependency, fail, hostile."""
    work = tmp_path_factory.mktemp("slurm")
    work.chmod(0o777)
    canary = work / "pwned"
    argument = NAME.format(c=canary)
    array = _submit(_spec("array", ("sleep", "1"), array="0-3%2"))
    gpu = _submit(_spec("gpu", ("true",), partition="gpu", gpus=2, gpu_type="a100"))
    after = _submit(_spec("after", ("true",), dependency=f"afterok:{array}"))
    failing = _submit(_spec("failing", ("bash", "-c", "exit 3")))
    output = work / "hostile.out"
    hostile = _submit(
        _spec(
            NAME.format(c=canary),
            ("printf", "%s", argument),
            comment=COMMENT.format(c=canary),
            output=str(output),
            workdir=str(work),
        )
    )
    wait_finished([array, gpu, after, failing, hostile])
    return Submitted(
        array, gpu, after, failing, hostile, canary, output, argument,
        NAME.format(c=canary), COMMENT.format(c=canary),
    )  # fmt: skip


def test_cluster_state_has_nodes_partitions_and_gpus(
    backend: SlurmBackend, slurm_cluster: str
) -> None:
    state = backend.cluster_state()
    assert state.release.startswith("22.05") and state.cluster == slurm_cluster
    assert len(state.nodes) == 8
    assert all(n.cpus == 16 and n.gpus == 4 and n.gpu_type == "a100" for n in state.nodes)
    assert {p.name for p in state.partitions} >= {"batch", "gpu", "debug"}
    assert state.partition("gpu").nodes == ("n5", "n6", "n7", "n8")
    assert state.machine("gpu").describe() == "4 nodes x 16 cores, 4 GPUs, 64000 MB per node"


def test_jobs_read_back_through_each_backend(backend: SlurmBackend, submitted: Submitted) -> None:
    tasks = backend.jobs([submitted.array])
    assert sorted(t.array_task_id for t in tasks if t.array_task_id is not None) == [0, 1, 2, 3]
    assert all(t.state == "COMPLETED" for t in tasks)
    (gpu,) = backend.jobs([submitted.gpu])
    assert (gpu.state, gpu.gpus, gpu.partition) == ("COMPLETED", 2, "gpu")
    (after,) = backend.jobs([submitted.after])
    assert after.state == "COMPLETED"
    assert after.start_s is not None
    assert after.start_s >= max(t.end_s or 0 for t in tasks)  # afterok waited for the array
    (failing,) = backend.jobs([submitted.failing])
    assert (failing.state, failing.exit_code) == ("FAILED", 3)


def test_hostile_name_and_comment_round_trip_and_nothing_runs(
    backend: SlurmBackend, submitted: Submitted
) -> None:
    (job,) = backend.jobs([submitted.hostile])
    assert job.state == "COMPLETED"
    assert job.name == submitted.name
    assert job.comment == submitted.comment
    assert job.token is not None
    assert submitted.output.read_text() == submitted.argument  # the argument was data
    assert not submitted.canary.exists()


@pytest.fixture(scope="module")
def accounted(submitted: Submitted) -> list[AccountingRecord]:
    """The module's jobs in slurmdbd, once every field the tests read has arrived there
    (slurmdbd fills records in asynchronously: the history tests all wait for this)."""
    cli = CliBackend()
    ids = [submitted.array, submitted.gpu, submitted.failing, submitted.hostile]
    deadline = time.monotonic() + 90
    while True:
        records = cli.history(start_s=int(time.time()) - 3600, job_ids=ids)

        # At first a record may lack its end, its name (reads "allocation"), its comment or
        # its allocation, each on its own.
        def complete(r: AccountingRecord) -> bool:
            named = r.name not in ("", "allocation")
            if r.job_id == submitted.hostile:
                return r.state in FINISHED_STATES and r.comment != "" and named
            if r.job_id == submitted.gpu:
                return bool(r.end_s) and r.alloc_gpus == 2 and named
            if r.job_id == submitted.failing:
                started = r.wait_s is not None and r.run_s is not None
                return r.state == "FAILED" and r.time_limit_s is not None and started and named
            return bool(r.end_s) or (r.state in FINISHED_STATES and r.comment != "")

        done = {r.job_id for r in records if complete(r)}
        if {submitted.gpu, submitted.failing, submitted.hostile} <= done:
            return records
        assert time.monotonic() < deadline, f"accounting incomplete: {sorted(done)}"
        time.sleep(1)


def test_history_from_slurmdbd(submitted: Submitted, accounted: list[AccountingRecord]) -> None:
    records = accounted
    done = {r.job_id: r for r in records}
    failing = done[submitted.failing]
    assert (failing.state, failing.exit_code) == ("FAILED", 3)  # sacct --json said 0
    assert failing.wait_s is not None and failing.run_s is not None
    assert failing.time_limit_s == 300
    gpu = done[submitted.gpu]
    assert (gpu.req_gpus, gpu.alloc_gpus) == (2, 2)
    hostile = done[submitted.hostile]
    assert hostile.comment == submitted.comment
    assert hostile.name == submitted.name.replace('"', "`")  # slurmdbd's own substitution
    assert [r for r in records if r.array_job_id == submitted.array]


def test_history_through_rest_marks_the_22_05_exit_bug_unknown(
    submitted: Submitted, accounted: list[AccountingRecord]
) -> None:
    from tests.hpc.slurm.conftest import make_backend

    rest = make_backend("rest-unix")
    records = {r.job_id: r for r in rest.history(start_s=int(time.time()) - 3600)}
    failing = records[submitted.failing]
    assert failing.state == "FAILED"
    assert failing.exit_code is None  # dbv0.0.38 says SUCCESS/0: unknown, never a wrong 0


def test_import_history_into_a_workload(
    submitted: Submitted,
    accounted: list[AccountingRecord],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from db.workloads import load_trace
    from schedsight.cli import main
    from schedsight.settings import Settings
    from schedsight.storage import Store

    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", f"sqlite+pysqlite:///{tmp_path / 'w.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["slurm", "import", "--days", "1", "--name", "dev"]) == 0
    out = capsys.readouterr().out
    assert "stored as new workload 1" in out and "real wait (start - eligible)" in out
    # Importing the same history again stores nothing new. Other tests' jobs may still end
    # in between (their history then differs): import until it repeats.
    deadline = time.monotonic() + 60
    while True:
        assert main(["slurm", "import", "--days", "1", "--name", "dev"]) == 0
        out = capsys.readouterr().out
        if (same := re.search(r"already stored as workload (\d+)", out)) is not None:
            break
        assert "stored as new workload" in out
        assert time.monotonic() < deadline, f"each import stored a new workload: {out}"
        time.sleep(2)
    store = Store.open(Settings().resolved_database_url())
    with transaction(store.sessions) as session:
        trace = load_trace(session, workload_id=int(same.group(1)))
    ids = set(trace.column("job_number").astype(int).tolist())
    assert {submitted.gpu, submitted.failing, submitted.hostile} <= ids
    assert trace.header.keys["Computer"].startswith("Slurm cluster")


def test_idempotent_submit_never_makes_a_second_job(slurm_cluster: str) -> None:
    from hpc.slurm.actions import MemoryAudit

    cli, token = CliBackend(), new_token()
    spec = _spec("idem", ("true",))
    first = submit_idempotent(
        cli, spec, remit=REMIT, audit=MemoryAudit(), backoff=FAST, token=token
    )
    again = submit_idempotent(
        cli, spec, remit=REMIT, audit=MemoryAudit(), backoff=FAST, token=token
    )
    assert first.created and not again.created and again.job_id == first.job_id
    assert [j.job_id for j in cli.jobs() if j.token == token] == [first.job_id]


class _Searches(CliBackend):
    """The CLI backend, recording the accounting windows searched; `hide_queue`: the
    controller's queue looks empty (as once a finished job has left it), so a search must
    go to accounting; `lose_answers`: that many submits reach Slurm but their answer is lost.
    """

    def __init__(self, *, hide_queue: bool = False, lose_answers: int = 0) -> None:
        super().__init__()
        self.starts: list[int] = []
        self.hide_queue, self.lose_answers = hide_queue, lose_answers

    def jobs(self, job_ids: Collection[int] | None = None) -> list[LiveJob]:
        return [] if self.hide_queue else super().jobs(job_ids)

    def history(self, *, start_s: int, **kw: object) -> list[AccountingRecord]:
        self.starts.append(start_s)
        return super().history(start_s=start_s, **kw)  # type: ignore[arg-type]

    def submit(self, spec: JobSpec, *, comment: str) -> int:
        job_id = super().submit(spec, comment=comment)
        if self.lose_answers:
            self.lose_answers -= 1
            raise ControllerUnreachableError("the answer was lost")
        return job_id


def test_a_fresh_token_is_searched_for_only_after_an_attempt_was_sent(
    slurm_cluster: str,
) -> None:
    from hpc.slurm.actions import CLOCK_SLACK_S, MemoryAudit

    spec = _spec("fresh", ("true",))
    backend = _Searches(hide_queue=True)
    submit_idempotent(backend, spec, remit=REMIT, audit=MemoryAudit(), backoff=FAST)
    assert backend.starts == []  # a token made by this call cannot be on a job yet
    # The first answer is lost: the retry searches accounting from the call's start (minus
    # the clock slack), not a week back. (Whether slurmdbd already has the job that soon
    # is up to slurmdbd, so only the window is checked here.)
    lossy = _Searches(hide_queue=True, lose_answers=1)
    before = int(time.time())
    result = submit_idempotent(lossy, spec, remit=REMIT, audit=MemoryAudit(), backoff=FAST)
    assert len(lossy.starts) == 1 and lossy.starts[0] >= before - CLOCK_SLACK_S - 1
    scancel(*[j.job_id for j in CliBackend().jobs() if j.token == result.token])


def test_a_submit_whose_answer_never_comes_names_the_token_to_retry_with(
    slurm_cluster: str,
) -> None:
    from hpc.slurm.actions import MemoryAudit

    lossy = _Searches(lose_answers=5)
    with pytest.raises(ControllerUnreachableError, match="run again with --token ") as caught:
        submit_idempotent(
            lossy, _spec("lost", ("true",)), remit=REMIT, audit=MemoryAudit(),
            backoff=Backoff(1),
        )  # fmt: skip
    token = re.search(r"--token (\w+)", str(caught.value))
    assert token is not None
    # With that token, a later call finds the job the lost answer made: no second job.
    again = submit_idempotent(
        CliBackend(), _spec("lost", ("true",)), remit=REMIT, audit=MemoryAudit(),
        backoff=FAST, token=token.group(1),
    )  # fmt: skip
    assert not again.created
    assert [j.job_id for j in CliBackend().jobs() if j.token == token.group(1)] == [again.job_id]


@pytest.mark.parametrize("kind", ["rest-unix", "rest-jwt"])
def test_submit_through_rest(kind: str, slurm_cluster: str) -> None:
    from hpc.slurm.actions import MemoryAudit
    from tests.hpc.slurm.conftest import make_backend

    rest = make_backend(kind)
    spec = _spec("rest $(id)\nx", ("true",), comment="c\n$(id)")
    job_id = submit_idempotent(rest, spec, remit=REMIT, audit=MemoryAudit(), backoff=FAST).job_id
    job = wait_finished([job_id])[job_id]
    assert (job.state, job.name, job.comment, job.account) == (
        "COMPLETED",
        spec.name,
        spec.comment,
        "physics",
    )
    assert job.user == ("slurmrest" if kind == "rest-unix" else "root")


@pytest.mark.parametrize("kind", ["cli", "rest-jwt"])
def test_hold_release_nice_priority_begin_dependency_audited(
    kind: str, slurm_cluster: str, audit: AuditTrail, audit_sessions: sessionmaker[Session]
) -> None:
    from tests.hpc.slurm.conftest import make_backend

    backend = make_backend(kind)
    job_id = _submit(_spec("acted", ("true",), begin="now+1hours"))
    anchor = _submit(_spec("anchor", ("true",), hold=True))  # a dependency that stays unmet
    try:

        def act(kind_: ActionKind, value: int | str | None = None) -> None:
            apply_action(
                backend, job_id, Action(kind_, value), remit=REMIT, audit=audit, backoff=FAST
            )

        def job() -> tuple[str, str, int, int, str]:
            (j,) = CliBackend().jobs([job_id])
            return j.state, j.reason, j.nice, j.priority, j.dependency

        assert job()[:2] == ("PENDING", "BeginTime")
        act(ActionKind.HOLD)
        assert job()[1].startswith("JobHeld") and job()[3] == 0
        act(ActionKind.RELEASE)
        state, reason, _, priority, _ = job()
        assert state == "PENDING" and not reason.startswith("JobHeld") and priority > 0
        act(ActionKind.NICE, 100)
        assert job()[2] == 100
        act(ActionKind.PRIORITY, 5000)
        assert job()[3] == 5000
        act(ActionKind.DEPENDENCY, f"afterok:{anchor}")
        assert job()[4].startswith(f"afterok:{anchor}")
        act(ActionKind.DEPENDENCY, "")
        act(ActionKind.BEGIN, "2030-01-01T00:00:00")
        (j,) = CliBackend().jobs([job_id])
        assert j.eligible_s is None or j.eligible_s >= 1893452400
    finally:
        scancel(job_id, anchor)
    with transaction(audit_sessions) as session:
        entries = list(reversed(list_audit(session, target=f"job:{job_id}")))
        results = [(e.action, e.result) for e in entries]
    expected = ["hold", "release", "nice", "priority", "dependency", "dependency", "begin"]
    assert results == [(a, r) for a in expected for r in ("intent", "ok")]


def test_actions_outside_the_remit_are_refused_and_recorded(
    slurm_cluster: str, audit: AuditTrail, audit_sessions: sessionmaker[Session]
) -> None:
    cli = CliBackend()
    other = cli.submit(_spec("theirs", ("true",), account="chemistry", hold=True), comment="")
    try:
        with pytest.raises(RemitError, match="account 'chemistry' is outside the remit"):
            apply_action(
                cli, other, Action(ActionKind.RELEASE), remit=REMIT, audit=audit, backoff=FAST
            )
        (job,) = cli.jobs([other])
        assert job.held  # untouched
        token = new_token()
        with pytest.raises(RemitError, match="partition 'debug'"):
            submit_idempotent(
                cli, _spec("x", ("true",), partition="debug"), remit=REMIT, audit=audit,
                backoff=FAST, token=token,
            )  # fmt: skip
        assert find_by_token(cli, token) is None
    finally:
        scancel(other)
    with transaction(audit_sessions) as session:
        results = [(e.action, e.result) for e in list_audit(session)]
    assert results == [("submit", "refused"), ("release", "refused")]


def test_test_only_and_planned_start(slurm_cluster: str) -> None:
    cli = CliBackend()
    now = int(time.time())
    free = estimate_start(cli, _spec("probe", ("true",), partition="gpu", gpus=4), backoff=FAST)
    assert free.source == "test-only" and free.start_s is not None
    assert abs(free.start_s - now) < 60 and free.partition == "gpu"
    # Fill the GPU partition (16 GPUs) for its 3-minute limit; a GPU job must then wait.
    blocker = _submit(
        _spec(
            "blocker",
            ("sleep", "300"),
            partition="gpu",
            nodes=4,
            ntasks=4,
            gpus=16,
            time_limit_s=180,
        )
    )
    waiting = _submit(_spec("waiting", ("true",), partition="gpu", gpus=4, time_limit_s=60))
    try:
        deadline = time.monotonic() + 90  # backfill passes (every 5 s) slip on a busy host
        while True:
            b, w = (cli.jobs([j])[0] for j in (blocker, waiting))
            assert not w.running and not w.finished, (
                f"job {waiting} started at once: something else holds a GPU of partition gpu "
                f"(blocker {b.state}, {b.reason})"
            )
            est = planned_start(cli, waiting, backoff=FAST) if b.running else None
            if est is not None and est.start_s is not None:
                break
            assert time.monotonic() < deadline, "no planned start from the backfill scheduler"
            time.sleep(1)
        assert b.start_s is not None
        assert est.start_s >= b.start_s + 170  # after the blocker's time limit
        later = estimate_start(
            cli, _spec("probe", ("true",), partition="gpu", gpus=4), backoff=FAST
        )
        assert later.start_s is not None and later.start_s >= b.start_s + 170
    finally:
        scancel(blocker, waiting)


def test_user_errors_are_one_line_exit_2(
    slurm_cluster: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from schedsight.cli import main

    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", f"sqlite+pysqlite:///{tmp_path / 'e.db'}")
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    monkeypatch.delenv("SCHEDSIGHT_SLURM_ACCOUNTS", raising=False)
    assert main(["slurm", "submit", "--name", "x", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no remit is configured" in err and "Traceback" not in err
    monkeypatch.setenv("SCHEDSIGHT_SLURM_ACCOUNTS", "physics")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_PARTITIONS", "batch")
    assert main(["slurm", "apply", "999999", "hold"]) == 2
    assert "not in the controller's queue" in capsys.readouterr().err
    assert main(["slurm", "apply", "1", "explode"]) == 2
    assert "unknown action" in capsys.readouterr().err


def test_status_prints_nodes_partitions_and_queue(
    slurm_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from schedsight.cli import main

    held = _submit(_spec("status $(x)\nq", ("true",), hold=True))
    try:
        assert main(["slurm", "status"]) == 0
    finally:
        scancel(held)
    out = capsys.readouterr().out
    assert f"cluster {slurm_cluster} (Slurm 22.05" in out
    assert "n8" in out and "gpu" in out and "debug" in out
    assert "status $(x)\\nq" in out and "held by" in out  # escaped, and why it waits


def _stop_controller() -> None:
    pid = int(Path("/run/slurmctld.pid").read_text())
    os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:  # gone, or a zombie its parent has not reaped yet: stopped either way
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return
        time.sleep(0.1)
    raise AssertionError("slurmctld did not stop within 30 s")


@pytest.mark.skipif(os.geteuid() != 0, reason="stopping and starting slurmctld needs root")
def test_controller_stopped_mid_run(
    slurm_cluster: str, audit: AuditTrail, audit_sessions: sessionmaker[Session]
) -> None:
    cli = CliBackend()
    token = new_token()
    timer: threading.Timer | None = None
    _stop_controller()
    try:
        with pytest.raises(ControllerUnreachableError, match="did not answer after 2 attempt"):
            with_retry(cli.jobs, Backoff(2, 0.2), what="reading the queue")
        with pytest.raises(ControllerUnreachableError):
            submit_idempotent(
                cli, _spec("while-down", ("true",)), remit=REMIT, audit=audit,
                backoff=Backoff(1), token=token,
            )  # fmt: skip
        # The controller comes back while a call is still retrying: that call succeeds.
        timer = threading.Timer(1.0, restart_cluster)
        timer.start()
        jobs = with_retry(cli.jobs, Backoff(30, 0.5, 1.5, 3.0), what="reading the queue")
        assert isinstance(jobs, list)
    finally:
        if timer is not None:  # its restart must end before the next one (and the next test)
            timer.cancel()
            timer.join(timeout=300)
        restart_cluster()
    assert find_by_token(cli, token) is None  # nothing was submitted while it was down
    with transaction(audit_sessions) as session:
        results = [e.result for e in reversed(list_audit(session, target=f"token:{token}"))]
    assert results == ["intent", "error"]  # never "ok"


def test_pyslurm_says_why_it_is_unavailable() -> None:
    import importlib.util

    from hpc.slurm.pyslurm_backend import PyslurmBackend

    if importlib.util.find_spec("pyslurm") is not None:
        pytest.skip("pyslurm is installed here")
    with pytest.raises(BackendUnavailableError, match=r"pyslurm is not installed.*22\.5"):
        PyslurmBackend()


def test_rest_has_no_test_only(slurm_cluster: str) -> None:
    from tests.hpc.slurm.conftest import make_backend

    with pytest.raises(BackendUnavailableError, match="cli backend"):
        make_backend("rest-unix").test_only(_spec("x", ("true",)))


def test_cli_backend_reports_a_refusal_as_slurms_answer(slurm_cluster: str) -> None:
    from hpc.slurm.errors import SlurmCommandError

    with pytest.raises(SlurmCommandError, match="Invalid job id"):
        CliBackend().apply(999999, Action(ActionKind.NICE, 1))
    assert subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0


def test_actions_on_jobs_that_no_longer_wait_are_refused(
    slurm_cluster: str, audit: AuditTrail, audit_sessions: sessionmaker[Session]
) -> None:
    from hpc.slurm.errors import SlurmError

    # A job of its own that just ended: the controller forgets finished jobs after
    # MinJobAge (300 s), which the module's earlier jobs may be past by now.
    done = _submit(_spec("done", ("true",)))
    wait_finished([done])
    with pytest.raises(SlurmError, match="completed: hold only affects pending jobs"):
        apply_action(
            CliBackend(), done, Action(ActionKind.HOLD), remit=REMIT, audit=audit, backoff=FAST
        )
    with transaction(audit_sessions) as session:
        assert list_audit(session) == []  # nothing was sent, so nothing to record
