"""Every supported Slurm release, live: 22.05 (the host), 24.11 and 26.05 (chroot clusters),
each through the cli and REST backends. Status, submit (arrays, dependencies, GPUs), read
back, import from slurmdbd, act with the audit trail and the remit, estimate, and the
`schedsight slurm` commands as a new user runs them. No Slurm command is faked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Collection
from pathlib import Path

import pytest

from hpc.slurm.actions import MemoryAudit, apply_action, submit_idempotent
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import BackendUnavailableError, RemitError, SlurmCommandError
from hpc.slurm.estimate import estimate_start
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.rest_backend import RestBackend
from hpc.slurm.retry import Backoff
from hpc.slurm.spec import JobSpec
from hpc.slurm.state import LiveJob
from tests.hpc.slurm.conftest import REMIT, Release, wait_finished

pytestmark = pytest.mark.slurm
FAST = Backoff(attempts=3, first_s=0.2)
KINDS = ["cli", "rest"]
ROOT = Path(__file__).resolve().parents[3]


def _spec(name: str, command: tuple[str, ...] = ("true",), **kw: object) -> JobSpec:
    fields: dict[str, object] = {"account": "physics", "partition": "batch", "time_limit_s": 300}
    return JobSpec(name=name, command=command, **(fields | kw))  # type: ignore[arg-type]


def _wait(release: Release, ids: Collection[int]) -> dict[int, LiveJob]:
    return wait_finished(ids, timeout_s=120, cli=release.cli())


def _cancel(release: Release, *ids: int) -> None:
    release.run("scancel", *map(str, ids))


@pytest.mark.parametrize("kind", KINDS)
def test_status_reads_nodes_partitions_and_gpus(release: Release, kind: str) -> None:
    state = release.backend(kind).cluster_state()
    assert state.release.startswith(release.name)
    assert len(state.nodes) == release.nodes
    assert all(n.gpus == release.gpus_per_node and n.gpu_type == "a100" for n in state.nodes)
    assert {"batch", "gpu"} <= {p.name for p in state.partitions}
    assert state.partition("batch").max_time_s == 2 * 86400


@pytest.mark.parametrize("kind", KINDS)
def test_submit_read_back_and_import(release: Release, kind: str) -> None:
    backend = release.backend(kind)
    started = int(time.time()) - 5

    def submit(spec: JobSpec) -> int:
        sink = MemoryAudit()
        return submit_idempotent(backend, spec, remit=REMIT, audit=sink, backoff=FAST).job_id

    array = submit(_spec("rel-array", ("sleep", "1"), array="0-2"))
    gpu = submit(_spec("rel-gpu", partition="gpu", gpus=1, gpu_type="a100"))
    after = submit(_spec("rel-after", dependency=f"afterok:{array}"))
    failing = submit(_spec("rel-fail", ("bash", "-c", "exit 3")))
    try:
        _wait(release, [array, gpu, after, failing])
    finally:
        _cancel(release, array, gpu, after, failing)
    tasks = backend.jobs([array])
    assert sorted(t.array_task_id for t in tasks if t.array_job_id == array) == [0, 1, 2]
    (g,) = backend.jobs([gpu])
    assert (g.state, g.gpus, g.partition, g.account) == ("COMPLETED", 1, "gpu", "physics")
    (a,) = backend.jobs([after])
    assert (a.state == "COMPLETED" and a.dependency == "") or a.dependency.startswith("afterok")
    assert a.start_s is not None and a.start_s >= max(t.end_s or 0 for t in tasks)
    (f,) = backend.jobs([failing])
    assert (f.state, f.exit_code) == ("FAILED", 3)
    # slurmdbd writes the end a moment after the controller: ask until it has both. By name
    # too: a cluster whose controller state was reset reuses job ids that slurmdbd still has.
    deadline = time.monotonic() + 30
    wanted = {gpu: "rel-gpu", failing: "rel-fail"}
    while True:
        found = backend.history(start_s=started, job_ids=[gpu, failing])
        records = {r.job_id: r for r in found if wanted.get(r.job_id) == r.name}
        if {gpu, failing} <= set(records) and records[failing].end_s:
            break
        assert time.monotonic() < deadline, f"slurmdbd of Slurm {release.name} lags: {records}"
        time.sleep(1)
    assert records[gpu].req_gpus == 1 and records[gpu].state == "COMPLETED"
    # 22.05's REST writes a failed job's exit code as 0; it is unknown there, never wrong
    assert records[failing].exit_code in ((None, 3) if release.name == "22.05" else (3,))


@pytest.mark.parametrize("kind", KINDS)
def test_actions_are_sent_audited_and_held_to_the_remit(release: Release, kind: str) -> None:
    backend, cli = release.backend(kind), release.cli()
    audit = MemoryAudit()
    # Submitted through the backend under test: on slurmrestd's unix socket jobs belong to
    # the daemon's user, and a user may act on their own jobs only.
    job_id = backend.submit(_spec("rel-acted", begin="now+1hours"), comment="")
    anchor = backend.submit(_spec("rel-anchor", hold=True), comment="")
    theirs = cli.submit(_spec("rel-theirs", account="chemistry", hold=True), comment="")

    def act(kind_: ActionKind, value: int | str | None = None, job: int = job_id) -> None:
        apply_action(backend, job, Action(kind_, value), remit=REMIT, audit=audit, backoff=FAST)

    def job() -> LiveJob:
        (j,) = cli.jobs([job_id])
        return j

    try:
        assert job().reason == "BeginTime"
        act(ActionKind.HOLD)
        assert job().held
        act(ActionKind.RELEASE)
        assert not job().held and job().priority > 0
        act(ActionKind.NICE, 100)
        assert job().nice == 100
        if kind == "rest":  # the socket's user is no operator: Slurm refuses, and says why
            with pytest.raises(SlurmCommandError, match=r"priority|Access/permission denied"):
                act(ActionKind.PRIORITY, 5000)
        else:
            act(ActionKind.PRIORITY, 5000)
            assert job().priority == 5000
        act(ActionKind.DEPENDENCY, f"afterok:{anchor}")
        assert job().dependency.startswith(f"afterok:{anchor}")
        act(ActionKind.DEPENDENCY, "")
        assert job().dependency == ""
        act(ActionKind.BEGIN, "2030-01-01T00:00:00")
        assert (job().eligible_s or 0) >= 1893452400
        with pytest.raises(RemitError, match="account 'chemistry' is outside the remit"):
            act(ActionKind.RELEASE, job=theirs)
        (other,) = cli.jobs([theirs])
        assert other.held  # untouched
    finally:
        _cancel(release, job_id, anchor, theirs)
    done = [(e["action"], e["result"]) for e in audit.entries]
    sent = ["hold", "release", "nice", "priority", "dependency", "dependency", "begin"]
    expected = [(a, r) for a in sent for r in ("intent", "ok")] + [("release", "refused")]
    if kind == "rest":
        expected[7] = ("priority", "error")
    assert done == expected


@pytest.mark.parametrize("kind", KINDS)
def test_estimate(release: Release, kind: str) -> None:
    backend = release.backend(kind)
    probe = _spec("rel-probe", partition="gpu", gpus=1)
    if kind == "rest":  # slurmrestd has no --test-only in any release
        with pytest.raises(BackendUnavailableError, match="use the cli backend"):
            estimate_start(backend, probe, backoff=FAST)
        return
    est = estimate_start(backend, probe, backoff=FAST)
    assert est.source == "test-only" and est.partition == "gpu"
    assert est.start_s is not None and abs(est.start_s - time.time()) < 120


def _schedsight(release: Release, kind: str, tmp: Path, *argv: str) -> str:
    env = os.environ | release.env(kind) | {
        "SCHEDSIGHT_DATA_DIR": str(tmp), "SCHEDSIGHT_DATABASE_URL": "",
        "SCHEDSIGHT_SLURM_ACCOUNTS": "physics", "SCHEDSIGHT_SLURM_PARTITIONS": "batch,gpu",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "schedsight", "slurm", *argv],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"schedsight slurm {' '.join(argv)}: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_the_commands_as_a_new_user_runs_them(release: Release, kind: str, tmp_path: Path) -> None:
    status = json.loads(_schedsight(release, kind, tmp_path, "status", "--json"))
    assert status["release"].startswith(release.name) and len(status["nodes"]) == release.nodes
    out = _schedsight(release, kind, tmp_path, "submit", "--name", "rel-cmd", "--hold",
                      "--gpus", "1", "--partition", "gpu", "--", "true")  # fmt: skip
    job_id = int(out.split()[1].rstrip(";"))  # "job 12; token ..."
    try:
        out = _schedsight(release, kind, tmp_path, "estimate", "--job", str(job_id))
        assert out.startswith(f"job {job_id}: Slurm has no planned start yet")  # it is held
        if kind == "cli":
            out = _schedsight(release, kind, tmp_path, "estimate", "--name", "p", "--partition",
                              "gpu", "--gpus", "1", "--", "true")  # fmt: skip
            assert "in gpu [slurm test-only]" in out
        out = _schedsight(release, kind, tmp_path, "apply", str(job_id), "release")
        assert f"sent to job {job_id}" in out
        _wait(release, [job_id])
    finally:
        _cancel(release, job_id)
    out = _schedsight(release, kind, tmp_path, "import", "--days", "1", "--name", "rel")
    assert "rel" in out


@pytest.mark.parametrize("kind", KINDS)
def test_history_that_matches_no_job_is_empty(release: Release, kind: str) -> None:
    # A cluster that has run nothing yet answers every history query this way (22.05 says
    # "Nothing found with query" as an error beside an empty list).
    backend = release.backend(kind)
    assert backend.history(start_s=int(time.time()) - 600, job_ids=[2_000_000_000]) == []


def test_cluster_names_the_cluster_in_every_command(release: Release) -> None:
    name = release.cli().cluster_name()
    named = CliBackend(prefix=release.prefix, cluster=name)
    assert named.cluster_state().cluster == name
    assert named.history(start_s=int(time.time()) - 600) is not None
    with pytest.raises(SlurmCommandError, match="nosuch"):
        CliBackend(prefix=release.prefix, cluster="nosuch").jobs()
    rest = RestBackend(release.rest_url, cluster="nosuch")
    with pytest.raises(SlurmCommandError, match=f"serves cluster {name}"):
        rest.cluster_state()
