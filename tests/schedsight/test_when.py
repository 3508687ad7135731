"""`schedsight when JOBID` and the portal API on a genuinely pending job of the dev Slurm
cluster (a job that wants every batch node, then one behind it); and the one-line errors of
a job that is not pending, not there, or a Slurm that does not answer."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from db.session import sqlite_url, transaction
from db.store import Store
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.retry import Backoff
from schedsight.cli import main
from tests.hpc.slurm.conftest import (
    _skip_or_fail,
    _why_not_up,
    hold_cluster,
    pending_behind,
    scancel,
)
from tests.lab_site import store_imported_history

TOKEN = "k" * 40


def test_a_slurm_that_does_not_answer_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "rest")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_REST_URL", f"unix:{tmp_path}/no-slurmrestd.sock")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_RETRIES", "1")
    assert main(["when", "12"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("schedsight: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def dev_cluster() -> str:
    """The host's dev cluster: its name; skips (fails in CI) when it is down."""
    hold_cluster()  # one test session at a time drives the dev cluster
    _skip_or_fail(_why_not_up())
    return CliBackend().cluster_name()


@pytest.fixture
def live_store(
    dev_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """A store whose newest history from the dev cluster is 600 generated jobs (the cluster's
    own accounting may be too short to train on), as `slurm import` would name it."""
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "cli")
    for name in ("SCHEDSIGHT_SLURM_COMMAND_PREFIX", "SCHEDSIGHT_SLURM_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
    store = Store.open(sqlite_url(tmp_path / "schedsight.db"))
    store_imported_history(store, dev_cluster)
    yield store
    store.engine.dispose()


@pytest.fixture
def pending_job(dev_cluster: str) -> Iterator[tuple[int, int]]:
    """(a job holding or waiting for every batch node, a one-node job pending behind it)."""
    wide, behind = pending_behind(CliBackend(), "schedsight tests")
    try:
        yield wide, behind
    finally:
        scancel(wide, behind)


@pytest.mark.slurm
def test_when_answers_for_a_pending_job_of_the_dev_cluster(
    live_store: Store, pending_job: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    _, job = pending_job
    assert main(["when", str(job), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["job_id"] == job and answer["partition"] == "batch"
    predicted = answer["predicted"]
    assert predicted is not None, answer["model"]
    assert answer["asked_s"] <= predicted["p10_s"] <= predicted["p50_s"] <= predicted["p90_s"]
    assert 0 < predicted["likely_chance"] <= 1
    assert answer["plan"]["method"] == "one-pool plan of batch"  # no site stored
    assert answer["why"]["sentence"] and answer["alternatives"]
    assert "slurm_start_s" in answer
    assert main(["when", str(job)]) == 0
    text = capsys.readouterr().out
    for part in ("predicted start: most likely", "forward plan:", "Slurm's plan:", "why:"):
        assert part in text
    assert main(["when", str(2**31)]) == 2
    assert "is not in the queue" in capsys.readouterr().err


@pytest.mark.slurm
def test_the_api_answers_the_same_job_over_http(
    live_store: Store, pending_job: tuple[int, int]
) -> None:
    from api.app import create_app
    from api.auth import ApiAuth
    from schedsight.live import LiveSource
    from tests.api.server import serve

    _, job = pending_job
    backoff = Backoff(attempts=3, first_s=0.5, factor=2.0, max_s=4.0)
    source = LiveSource(CliBackend(), backoff, live_store)
    app = create_app(source, live_store, ApiAuth(TOKEN, "REMOTE_USER"))
    with serve(app) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        owner = CliBackend().jobs([job])[0].user
        mine = httpx.get(f"{url}/v1/jobs/{job}/start", headers={**headers, "REMOTE_USER": owner})
        assert mine.status_code == 200, mine.text
        assert mine.json()["predicted"]["p50_s"] >= mine.json()["asked_s"]
        why = httpx.get(f"{url}/v1/jobs/{job}/explain", headers={**headers, "REMOTE_USER": owner})
        assert why.status_code == 200 and why.json()["why"]["drivers"]
        other = httpx.get(
            f"{url}/v1/jobs/{job}/start", headers={**headers, "REMOTE_USER": "someone-else"}
        )
        assert other.status_code == 403


@pytest.mark.slurm
def test_a_prediction_is_stored_and_judged_once_the_job_starts(
    live_store: Store, pending_job: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    from db.predictions import live_records, save_live_predictions

    wide, job = pending_job
    assert main(["when", str(job), "--json"]) == 0
    asked = json.loads(capsys.readouterr().out)
    scancel(wide)  # the job behind it starts now
    deadline = time.monotonic() + 60
    while (seen := CliBackend().jobs([job])[0]).pending:
        assert time.monotonic() < deadline, f"job {job} did not start after {wide} ended"
        time.sleep(1)
    assert main(["when", str(job)]) == 2  # not pending: says so, and stores the start
    assert "not pending" in capsys.readouterr().err
    with live_store.sessions() as session:
        (record,) = live_records(session)
    assert record.prediction.job_id == job and record.prediction.asked_by == "when"
    assert record.prediction.p50_s == asked["predicted"]["p50_s"]
    assert record.prediction.plan_s == asked["plan"]["start_s"]
    assert record.actual_s == seen.start_s
    # A prediction still without its outcome gets it from `slurm import` (the accounting).
    with transaction(live_store.sessions) as session:
        save_live_predictions(session, [dataclasses.replace(record.prediction, asked_by="api")])
    assert main(["slurm", "import", "--days", "1", "--name", "accuracy"]) == 0
    assert "outcomes: 1 stored predictions" in capsys.readouterr().out
    with live_store.sessions() as session:
        assert [r.actual_s for r in live_records(session)] == [seen.start_s] * 2
    assert main(["predict", "report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["judged"] == 2
