"""Alternatives: sensible candidates, honest numbers, and the three kinds of query."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.predict.alternatives import Change, candidates, prescriptive, ranked, what_if
from hpc.predict.errors import PredictError
from hpc.predict.features import request_of
from hpc.predict.history import History
from hpc.predict.predictor import Predictor


def _row(history: History) -> int:
    rows = np.arange(history.split(0.7), len(history))
    return int(rows[(history.jobs.procs[rows] >= 4) & (history.wait_s[rows] > 600)][0])


def test_candidates_change_one_thing_each(predictor: Predictor, history: History) -> None:
    base = request_of(history, _row(history))
    changes = candidates(predictor, base)
    assert Change(procs=base.procs // 2) in changes
    assert Change(req_time_s=base.req_time_s // 2) in changes
    assert Change(delay_s=3600) in changes


def test_ranked_options_include_the_job_as_asked_best_first(
    predictor: Predictor, history: History
) -> None:
    row = _row(history)
    options = ranked(predictor, request_of(history, row), upper=row)
    scores = [a.score for a in options]
    assert scores == sorted(scores, reverse=True)
    assert sum(a.change == Change() for a in options) == 1
    delayed = next(a for a in options if a.change == Change(delay_s=3600))
    assert delayed.prediction.start.p50_s >= history.jobs.submit_s[row] + 3600


def test_half_the_processors_twice_the_runtime_same_node_hours(
    predictor: Predictor, history: History
) -> None:
    row = _row(history)
    base = request_of(history, row)
    asked, half = what_if(predictor, base, Change(procs=base.procs // 2), upper=row)
    scale = base.procs / (base.procs // 2)
    assert half.request.req_time_s == int(base.req_time_s * scale)
    assert half.prediction.runtime.p50_s == pytest.approx(
        min(asked.prediction.runtime.p50_s * scale, half.request.req_time_s)
    )


def test_prescriptive_keeps_only_options_that_meet_the_deadline(
    predictor: Predictor, history: History
) -> None:
    row = _row(history)
    base = request_of(history, row)
    deadline = base.submit_s + 24 * 3600
    options = prescriptive(predictor, base, deadline, upper=row)
    assert all(a.finish.p90_s <= deadline for a in options)
    assert prescriptive(predictor, base, base.submit_s + 1, upper=row) == []


def test_impossible_changes_are_refused(predictor: Predictor, history: History) -> None:
    base = request_of(history, _row(history))
    with pytest.raises(PredictError, match="units"):
        what_if(predictor, base, Change(procs=10_000))
    with pytest.raises(PredictError, match="walltime"):
        what_if(predictor, base, Change(req_time_s=0))
