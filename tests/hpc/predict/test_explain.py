"""SHAP explanations: they add up, they read as a sentence, they come fast, they draw."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hpc.predict.advice import advise
from hpc.predict.explain import explain, global_importance
from hpc.predict.history import History
from hpc.predict.plots import bar_png, beeswarm_png, waterfall_png
from hpc.predict.predictor import Predictor


def _busy_job(history: History) -> int:
    rows = np.arange(history.split(0.7), len(history))
    waited = rows[history.wait_s[rows] > 3600]
    return int(history.jobs.job_id[waited[0]])


def test_attributions_add_up_to_the_prediction(predictor: Predictor, history: History) -> None:
    x = predictor.recent_x[-3:]
    contrib = predictor.wait_model.contributions(x)
    p50_log = predictor.wait_model.predict_log(x)[1]
    np.testing.assert_allclose(contrib.sum(axis=1), p50_log, rtol=1e-6, atol=1e-6)
    e = explain(predictor, x[0])
    assert abs(e.predicted_wait_s - float(np.expm1(p50_log[0]))) < 1e-3 * (1 + e.predicted_wait_s)
    shaps = [abs(a.shap) for a in e.attributions]
    assert shaps == sorted(shaps, reverse=True)


def test_sentence_names_the_strongest_influence(predictor: Predictor, history: History) -> None:
    advice = advise(predictor, _busy_job(history))
    sentence = advice.explanation.sentence()
    assert sentence.startswith("Predicted wait ")
    assert "to the predicted wait" in sentence or "off the predicted wait" in sentence
    assert any(unit in sentence for unit in (" s ", " min ", " h ", " d "))


def test_advice_for_one_job_takes_under_a_second(predictor: Predictor, history: History) -> None:
    job = _busy_job(history)
    advise(predictor, job)  # warm-up
    took = []
    for _ in range(3):
        t0 = time.perf_counter()
        advise(predictor, job)
        took.append(time.perf_counter() - t0)
    assert min(took) < 1.0


def test_pictures_are_written(predictor: Predictor, history: History, tmp_path: Path) -> None:
    advice = advise(predictor, _busy_job(history))
    x = predictor.recent_x[-300:]
    shap = global_importance(predictor, x)
    paths = [
        waterfall_png(advice.explanation, tmp_path / "w.png"),
        bar_png(shap, tmp_path / "b.png"),
        beeswarm_png(shap, x, tmp_path / "s.png"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
