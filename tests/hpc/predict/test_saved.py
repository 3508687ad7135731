"""A trained predictor saved as bytes answers exactly as it did; bytes that do not fit refuse."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hpc.predict import saved
from hpc.predict.advice import advise
from hpc.predict.errors import SavedModelError
from hpc.predict.history import History
from hpc.predict.predictor import Predictor
from hpc.predict.saved import history_digest, predictor_bytes, restored


def _answers(p: Predictor, rows: np.ndarray) -> list[object]:
    job = int(p.history.jobs.job_id[rows[len(rows) // 2]])
    advice = advise(p, job)
    return [
        p.predict_rows(rows),
        p.predict_rows(rows, queued=True),
        advice.prediction,
        advice.explanation,
        [(a.change, a.score, a.prediction, a.distance) for a in advice.alternatives],
    ]


def test_a_restored_predictor_answers_exactly_as_the_trained_one(
    predictor: Predictor, history: History
) -> None:
    back = restored(history, predictor_bytes(predictor))
    rows = np.arange(history.split(0.7), len(history), 7, dtype=np.int64)
    assert _answers(back, rows) == _answers(predictor, rows)
    assert np.array_equal(back.recent_x, predictor.recent_x, equal_nan=True)


def test_bytes_for_another_history_are_refused(predictor: Predictor, history: History) -> None:
    other = replace(history, start_s=history.start_s + 1)
    assert history_digest(other) != history_digest(history)
    with pytest.raises(SavedModelError, match="another history"):
        restored(other, predictor_bytes(predictor))


def test_bytes_of_another_feature_version_are_refused(
    predictor: Predictor, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = predictor_bytes(predictor)
    monkeypatch.setattr(saved, "FEATURE_VERSION", saved.FEATURE_VERSION + 1)
    with pytest.raises(SavedModelError, match="train it again"):
        restored(history, blob)


def test_a_refresh_continues_each_tree_ensemble(predictor: Predictor, history: History) -> None:
    base = (predictor.wait_model, predictor.run_model)
    refreshed = Predictor.train(history, history.split(0.8), predictor.params, base=base)
    rounds = predictor.params.rounds + predictor.params.refresh_rounds
    assert all(b.num_trees() == rounds for b in refreshed.wait_model.boosters)
    assert refreshed.run_model.boosters[0].num_trees() == rounds
    rows = np.arange(history.split(0.8), len(history), dtype=np.int64)
    old = [p.wait for p in predictor.predict_rows(rows)]
    assert [p.wait for p in refreshed.predict_rows(rows)] != old
