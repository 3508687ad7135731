"""`schedsight predict report` over the predictions `slurm status` stored, judged by the queue
seen later (a job now running)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest

from db.session import sqlite_url
from db.store import Store
from hpc.predict.live_answer import TrainedHistory
from hpc.predict.pending import PendingStart
from hpc.slurm.state import ClusterState, LiveJob
from schedsight.accuracy import median_predictions, record_state_starts, store_predictions
from schedsight.cli import main

NOW = 1_765_000_000


def _state(*jobs: LiveJob) -> ClusterState:
    return ClusterState("dev", "24.05", "cli", (), (), jobs)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    url = sqlite_url(tmp_path / "s.db")
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", url)
    return Store.open(url)


def test_report_says_so_until_a_predicted_job_starts(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = cast(TrainedHistory, type("T", (), {"label": "workload 1 (dev)", "model_id": None}))
    pending = LiveJob(
        7, "w", "bob", "a", "batch", "PENDING", "Priority", NOW - 60, start_s=NOW + 900
    )
    starts = {7: PendingStart(plan_s=NOW + 300, model_p50_s=NOW + 600.0)}
    store_predictions(store, median_predictions(_state(pending), starts, NOW, trained))
    assert main(["predict", "report"]) == 0
    assert "no outcomes yet" in capsys.readouterr().out

    running = LiveJob(7, "w", "bob", "a", "batch", "RUNNING", "None", NOW - 60, start_s=NOW + 500)
    assert record_state_starts(store, _state(running)) == 1
    assert main(["predict", "report", "--cluster", "dev", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["judged"] == 1
    errors = report["same_predictions"]
    assert [errors[k]["mean_s"] for k in ("model", "plan", "slurm")] == [100.0, 200.0, 400.0]
    assert report["band"] == {"n": 0, "coverage": None}
