"""Issue 20, probes 2 and 15, replayed so that neither can come back.

2. A job whose name is not UTF-8 (any user can submit one) broke every command that reads
   the queue, and the dashboard's live Overview, on the CLI and REST backends alike.
15. `slurm apply JOB nice N` released a held job: Slurm 22.05 drops the hold when nice
   changes (scontrol and slurmrestd alike), so a nice on a held job is refused, unsent.
The first tests replay recorded bytes (no Slurm needed); those marked `slurm` run against
the dev cluster (skipped without one, failed in CI).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy.orm import Session, sessionmaker

from dashboard import live
from db.audit import AuditTrail, list_audit
from db.session import transaction
from hpc.slurm.actions import MemoryAudit, apply_action, submit_idempotent
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import JobSpecError, SlurmError
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.output import raw_bytes
from hpc.slurm.rest_backend import RestBackend
from hpc.slurm.retry import Backoff
from hpc.slurm.spec import JobSpec
from hpc.slurm.state import ClusterState, LiveJob
from tests.hpc.slurm.conftest import REMIT, make_backend, scancel

DATA = Path(__file__).parent / "data"
ODD = b"caf\xe9\xff"  # the probe's name: Latin-1 e-acute, then a byte no encoding uses
ODD_SHOWN = "caf\\xe9\\xff"  # how people see it: every byte, nothing raw
FAST = Backoff(attempts=3, first_s=0.2)


# ---------------------------------------------------------------- probe 2, recorded bytes
def _recorded_cli(name: str) -> CliBackend:
    """The CLI backend fed `squeue --json` as the dev cluster printed it (odd job queued)."""
    out = (DATA / name).read_bytes()

    def runner(
        argv: Sequence[str], stdin: bytes | None, timeout_s: float
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(list(argv), 0, out, b"")

    return CliBackend(runner=runner)


def _recorded_rest(name: str) -> RestBackend:
    """The REST backend fed slurmrestd's job list as the dev cluster sent it."""
    body = (DATA / name).read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi/v3":
            return httpx.Response(200, json={"paths": {"/slurm/v0.0.38/ping": {}}})
        assert request.url.path == "/slurm/v0.0.38/jobs"
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return RestBackend("unix:/nonexistent.sock", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(lambda: _recorded_cli("squeue-22.05-non-utf8-name.json"), id="cli"),
        pytest.param(lambda: _recorded_rest("rest-jobs-22.05-non-utf8-name.json"), id="rest"),
    ],
)
def test_recorded_queue_with_a_non_utf8_name_reads_byte_faithfully(backend: object) -> None:
    jobs = {j.job_id: j for j in backend().jobs()}  # type: ignore[operator]
    held = jobs[24]
    assert held.held and raw_bytes(held.name) == ODD
    assert raw_bytes(held.comment) == b"c\xe9" and held.token is None
    assert jobs[1].state == "CANCELLED"


def _state(*jobs: LiveJob) -> ClusterState:
    return ClusterState("dev", "22.05.8", "recorded", (), (), jobs)


def test_live_overview_rows_show_the_odd_name_safely() -> None:
    jobs = _recorded_cli("squeue-22.05-non-utf8-name.json").jobs()
    state = _state(*jobs)
    (row,) = live.pending_rows(state, now_s=2_000_000_000)
    assert row["job"] == "24" and row["name"] == ODD_SHOWN
    pa.Table.from_pandas(pd.DataFrame(live.pending_rows(state)))  # what st.dataframe does
    running = LiveJob(7, "r\udcffn", "u", "physics", "batch", "RUNNING", "None", 0, start_s=1)
    (row,) = live.running_rows(_state(running), now_s=10)
    assert row["name"] == "r\\xffn"


def test_status_prints_the_odd_name_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from schedsight.slurm_commands import print_queue

    print_queue(_recorded_cli("squeue-22.05-non-utf8-name.json").jobs())
    out = capsys.readouterr().out
    assert ODD_SHOWN in out and "held by its user" in out


def test_a_non_utf8_name_is_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from schedsight.cli import main

    with pytest.raises(JobSpecError, match="not valid UTF-8"):
        JobSpec(name=ODD.decode("utf-8", "surrogateescape"), command=("true",))
    # As the probe typed it: bash's $'caf\xe9\xff' reaches Python's argv surrogate-escaped.
    argv = ["slurm", "submit", "--name", "caf\udce9\udcff", "--hold", "--", "true"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid UTF-8" in err and ODD_SHOWN in err


# ---------------------------------------------------------------- probe 2, the real cluster
@pytest.fixture
def odd_job(slurm_cluster: str) -> Iterator[int]:
    """A held job named b"caf\\xe9\\xff", submitted with sbatch itself (bytes argv), as any
    user of the cluster could; cancelled afterwards."""
    done = subprocess.run(
        [b"sbatch", b"--parsable", b"--hold", b"--account=physics", b"--partition=batch",
         b"--job-name=" + ODD, b"--comment=c\xe9", b"--output=/dev/null", b"--wrap=true"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    job_id = int(done.stdout.split(b";")[0])
    try:
        yield job_id
    finally:
        scancel(job_id)


@pytest.mark.slurm
@pytest.mark.parametrize("kind", ["cli", "rest-unix", "rest-jwt"])
def test_backends_read_the_cluster_while_the_odd_job_is_queued(kind: str, odd_job: int) -> None:
    state = make_backend(kind).cluster_state()
    (job,) = [j for j in state.jobs if j.job_id == odd_job]
    assert job.held and raw_bytes(job.name) == ODD and raw_bytes(job.comment) == b"c\xe9"
    rows = [r for r in live.pending_rows(state) if r["job"] == str(odd_job)]
    assert rows and rows[0]["name"] == ODD_SHOWN
    pa.Table.from_pandas(pd.DataFrame(live.pending_rows(state)))


def _rest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings for the REST backend as root over JWT (the one that may act on root's jobs)."""
    token = subprocess.run(
        ["scontrol", "token", "username=root", "lifespan=1800"],
        capture_output=True, text=True, check=True,
    ).stdout.strip().removeprefix("SLURM_JWT=")  # fmt: skip
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "rest")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_REST_URL", "http://127.0.0.1:6820")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_REST_USER", "root")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_JWT", token)


@pytest.fixture(params=["cli", "rest"])
def cli_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`schedsight slurm ...` on one backend, its own SQLite store, the dev remit."""
    from schedsight.cli import main

    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", f"sqlite+pysqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_ACCOUNTS", "physics")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_PARTITIONS", "batch")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "cli")
    if request.param == "rest":
        _rest_env(monkeypatch)
    assert main(["db", "upgrade"]) == 0
    return str(request.param)


@pytest.mark.slurm
def test_status_import_and_apply_work_while_the_odd_job_is_queued(
    odd_job: int, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from schedsight.cli import main

    capsys.readouterr()
    assert main(["slurm", "status"]) == 0
    out = capsys.readouterr().out
    assert f"{odd_job} " in out and ODD_SHOWN in out
    assert main(["slurm", "status", "--json"]) == 0
    assert f'"name": "{ODD_SHOWN}"'.replace("\\", "\\\\") in capsys.readouterr().out
    assert main(["slurm", "import", "--days", "1", "--name", "odd"]) == 0
    assert "finished jobs from" in capsys.readouterr().out
    other = _held("other")
    try:
        assert main(["slurm", "apply", str(other), "release"]) == 0
        assert "release: sent to job" in capsys.readouterr().out
    finally:
        scancel(other)


def _held(name: str, **kw: object) -> int:
    spec = JobSpec(
        name=name, command=("sleep", "60"), account="physics", partition="batch",
        time_limit_s=300, hold=True, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return submit_idempotent(
        CliBackend(), spec, remit=REMIT, audit=MemoryAudit(), backoff=FAST
    ).job_id


@pytest.mark.slurm
@pytest.mark.parametrize("kind", ["cli", "rest"])
def test_live_overview_page_works_while_the_odd_job_is_queued(
    kind: str, odd_job: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    from tests.dashboard.conftest import page

    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "cli")
    if kind == "rest":
        _rest_env(monkeypatch)
    st.cache_resource.clear()  # the backend is a cached resource: one per test here
    try:
        at = page("overview")
        at.query_params["source"] = "slurm"
        at.run()
    finally:
        st.cache_resource.clear()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    pending = at.dataframe[0].value
    assert ODD_SHOWN in pending["name"].tolist()


# ---------------------------------------------------------------- probe 15
def _job(job_id: int) -> LiveJob:
    (job,) = CliBackend().jobs([job_id])
    return job


@pytest.mark.slurm
def test_slurm_itself_releases_a_held_job_whose_nice_changes(slurm_cluster: str) -> None:
    """Why nice is refused on a held job: if a Slurm release ever keeps the hold, this
    fails, and the refusal in `apply_action` can go."""
    job_id = _held("nice-releases")
    try:
        subprocess.run(["scontrol", "update", f"jobid={job_id}", "nice=50"], check=True)
        deadline = time.monotonic() + 60
        while _job(job_id).held:
            assert time.monotonic() < deadline, "the hold survived a nice: lift the refusal"
            time.sleep(1)
    finally:
        scancel(job_id)


@pytest.mark.slurm
@pytest.mark.parametrize("kind", ["cli", "rest-jwt"])
def test_nice_on_a_held_job_is_refused_and_the_job_stays_held(
    kind: str, slurm_cluster: str, audit: AuditTrail, audit_sessions: sessionmaker[Session]
) -> None:
    backend = make_backend(kind)
    job_id = _held("keep-held")
    try:
        before = _job(job_id)
        assert before.held
        with pytest.raises(SlurmError, match=r"is held .*releases a held job.*release it first"):
            apply_action(
                backend, job_id, Action(ActionKind.NICE, 100), remit=REMIT, audit=audit,
                backoff=FAST,
            )  # fmt: skip
        time.sleep(6)  # a released job would have started by now (sched_interval and more)
        after = _job(job_id)
        assert after.held and (after.state, after.reason, after.nice, after.priority) == (
            before.state, before.reason, before.nice, before.priority,
        )  # fmt: skip
        # Released on purpose, a nice goes through.
        for action in (Action(ActionKind.RELEASE), Action(ActionKind.NICE, 100)):
            apply_action(backend, job_id, action, remit=REMIT, audit=audit, backoff=FAST)
        assert _job(job_id).nice == 100
    finally:
        scancel(job_id)
    with transaction(audit_sessions) as session:
        entries = reversed(list_audit(session, target=f"job:{job_id}"))
        results = [(e.action, e.result) for e in entries]
    assert results == [
        ("nice", "refused"), ("release", "intent"), ("release", "ok"), ("nice", "intent"),
        ("nice", "ok"),
    ]  # fmt: skip


@pytest.mark.slurm
def test_apply_nice_on_a_held_job_says_so_in_one_line(
    slurm_cluster: str, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from schedsight.cli import main

    job_id = _held("probe-15")
    try:
        capsys.readouterr()
        assert main(["slurm", "apply", str(job_id), "nice", "100"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is held" in err and "Traceback" not in err
        assert _job(job_id).held and _job(job_id).nice == 0
    finally:
        scancel(job_id)
