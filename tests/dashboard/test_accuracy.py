"""The Accuracy page's figures: the stored live predictions judged as `predict report` judges
them, in tables people read; and the words shown while nothing can be judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.accuracy import AccuracyView, clusters
from db.predictions import live_report, record_starts, save_live_predictions
from db.session import sqlite_url, transaction
from db.store import Store
from hpc.predict.accuracy import LivePrediction

NOW = 1_765_000_000


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(sqlite_url(tmp_path / "s.db"))


def _predict(store: Store, job_id: int, *, cluster: str = "dev", chance: float = 0.5) -> None:
    p = LivePrediction(
        cluster=cluster, job_id=job_id, partition="batch", asked_by="when", made_s=NOW,
        model="workload 1 (dev)", p50_s=NOW + 3600, p10_s=NOW + 600, p90_s=NOW + 7200,
        likely_from_s=NOW + 3000, likely_to_s=NOW + 4200, likely_chance=chance,
        plan_s=NOW + 1800, slurm_s=NOW + 9000,
    )  # fmt: skip
    with transaction(store.sessions) as session:
        save_live_predictions(session, [p])


def _started(store: Store, starts: dict[int, int], cluster: str = "dev") -> None:
    with transaction(store.sessions) as session:
        record_starts(session, cluster=cluster, starts=starts)


def test_nothing_stored_says_where_predictions_come_from(store: Store) -> None:
    view = AccuracyView.of(store, None)
    why = view.empty()
    assert why is not None and "No live start predictions" in why and "schedsight when" in why
    assert clusters(store) == []


def test_predictions_without_outcomes_say_how_they_are_judged(store: Store) -> None:
    _predict(store, 1)
    why = AccuracyView.of(store, "dev").empty()
    assert why is not None and "1 predictions are stored for cluster dev" in why
    assert "schedsight slurm import" in why


def test_the_same_figures_as_predict_report_in_words(store: Store) -> None:
    _predict(store, 1, chance=0.5)
    _predict(store, 2, chance=0.3)
    _predict(store, 3, cluster="other")
    _started(store, {1: NOW + 3600 + 300, 2: NOW + 300})  # 1 in its window, 2 before its band
    view = AccuracyView.of(store, "dev")
    assert view.empty() is None
    with store.sessions() as session:
        assert view.report == live_report(session, cluster="dev")  # predict report's numbers
    assert clusters(store) == ["dev", "other"]
    assert view.summary() == (
        "2 of 2 stored predictions have an outcome; the p10-p90 band held 50% of 2 actual "
        "starts (80% is calibrated)."
    )
    assert view.calibration_rows() == [
        {"stated chance": "20%-40%", "windows": 1, "stated (mean)": "30%", "hit": "0%",
         "hit - stated (points)": -30},
        {"stated chance": "40%-60%", "windows": 1, "stated (mean)": "50%", "hit": "100%",
         "hit - stated (points)": 50},
    ]  # fmt: skip
    model, plan, slurm = view.error_rows()
    assert model["estimate"] == "schedsight model (median)"
    # Errors: model 5 min and 55 min, plan 35 min and 25 min, Slurm 1 h 25 min and 2 h 25 min.
    assert model["median error, same jobs"] == "30 min" and model["predictions, same jobs"] == 2
    assert plan["mean error, all its jobs"] == "30 min"
    assert slurm["estimate"] == "Slurm's own estimate"
    assert slurm["median error, same jobs"] == "1 h 55 min"
    [day] = view.day_rows()
    assert day["predictions"] == 2 and day["Slurm's own estimate"] == "1 h 55 min"
    assert {r["estimate"] for r in view.day_series()} == {
        "schedsight model (median)", "schedsight forward plan", "Slurm's own estimate"
    }  # fmt: skip
