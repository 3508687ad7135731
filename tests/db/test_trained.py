"""Stored predictors: trained once per workload version, loaded after, refreshed by newer
history; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from db import trained
from db.models import TrainedModel
from db.trained import KEEP, Outcome, Training, trained_predictor
from hpc.predict import history, saved
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import TreeParams
from hpc.predict.saved import history_digest
from hpc.workload.cleaning import clean, machine_for
from hpc.workload.loading import LoadedWorkload
from hpc.workload.lublin import LublinParams, generate
from schedsight.storage import Store

QUICK = Training(TreeParams(rounds=10, refresh_rounds=5, threads=1))


def _workload(jobs: int) -> LoadedWorkload:
    """The first `jobs` jobs of one generated workload: a longer one is a newer version."""
    trace = generate(900, seed=5, procs=64, params=LublinParams(interarrival_scale=0.5))
    trace = type(trace)(trace.header, trace.records[:jobs], trace.line_numbers[:jobs], trace.source)
    machine = machine_for(trace)
    cleaned, report = clean(trace, machine=machine)
    return LoadedWorkload(trace, machine, cleaned, report)


@pytest.fixture(scope="module")
def older() -> LoadedWorkload:
    return _workload(600)


@pytest.fixture(scope="module")
def newer() -> LoadedWorkload:
    return _workload(900)


def _get(
    store: Store, loaded: LoadedWorkload, training: Training = QUICK
) -> tuple[Predictor, Outcome]:
    outcomes: list[Outcome] = []
    p = trained_predictor(
        store, loaded, lineage="trace:gen.swf", training=training, on_outcome=outcomes.append
    )
    return p, outcomes[0]


def _no_replay(*args: object, **kwargs: object) -> None:
    raise AssertionError("a stored model's history was replayed again")


def _bands(p: Predictor) -> list[object]:
    rows = np.arange(p.history.split(0.7), len(p.history), dtype=np.int64)
    return [(q.wait, q.runtime, q.likely) for q in p.predict_rows(rows, queued=True)]


def test_trained_once_then_loaded_with_the_same_answers(
    store: Store, older: LoadedWorkload, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, made = _get(store, older)
    monkeypatch.setattr(history, "simulate", _no_replay)
    again, loaded = _get(store, older)
    assert made.trained and not loaded.trained
    assert loaded.model_id == made.model_id
    assert _bands(again) == _bands(first)
    assert again.history.simulated  # generated: no recorded waits, the replay was stored
    assert np.array_equal(again.history.start_s, first.history.start_s)


def test_a_new_feature_version_trains_anew(
    store: Store, older: LoadedWorkload, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, made = _get(store, older)
    for module in (trained, saved):
        monkeypatch.setattr(module, "FEATURE_VERSION", 99)
    _, remade = _get(store, older)
    assert remade.trained and remade.model_id != made.model_id
    assert remade.base_id is None  # other features: nothing to continue
    with store.sessions() as session:
        assert session.get_one(TrainedModel, remade.model_id).feature_version == 99


def test_other_parameters_train_anew(store: Store, older: LoadedWorkload) -> None:
    _, made = _get(store, older)
    _, other = _get(store, older, Training(QUICK.tree, train_share=0.6))
    assert other.trained and other.model_id != made.model_id and other.base_id is None


def test_newer_history_continues_the_older_model(
    store: Store, older: LoadedWorkload, newer: LoadedWorkload
) -> None:
    old, made = _get(store, older)
    new, refreshed = _get(store, newer)
    assert refreshed.trained and refreshed.base_id == made.model_id
    trees = QUICK.tree.rounds + QUICK.tree.refresh_rounds
    assert all(b.num_trees() == trees for b in new.wait_model.boosters)
    with store.sessions() as session:
        row = session.get_one(TrainedModel, refreshed.model_id)
        assert (row.history, row.job_count, row.refreshes) == (history_digest(new.history), 900, 1)
    x = new.features(np.arange(600, 900, dtype=np.int64))
    assert not np.array_equal(new.wait_model.raw_levels(x), old.wait_model.raw_levels(x))
    _, again = _get(store, newer)
    assert not again.trained and again.model_id == refreshed.model_id


def test_each_lineage_keeps_its_newest_models(store: Store) -> None:
    ids = [_get(store, _workload(n))[1].model_id for n in range(300, 300 + 60 * (KEEP + 1), 60)]
    with store.sessions() as session:
        kept = session.scalars(select(TrainedModel.id).order_by(TrainedModel.id)).all()
        assert list(kept) == ids[-KEEP:]
        assert session.scalar(select(func.count()).select_from(TrainedModel)) == KEEP
