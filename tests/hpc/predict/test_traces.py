"""On a real trace (HPC2N subset, first 1,500 jobs): recorded waits, honest bands.

The first 1,500 jobs are little history: the model beats the training mean there, but not yet
the requested-time plan (bench/predict_eval.py measures that on whole traces).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpc.predict.history import history_of
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import TreeParams
from hpc.workload.loading import load_workload

pytestmark = pytest.mark.traces


def test_hpc2n_beats_the_mean_and_its_band_covers(traces_dir: Path) -> None:
    loaded = load_workload(traces_dir / "alea-hpc2n-subset.swf")
    loaded.jobs = loaded.jobs.take(slice(0, 1500))
    history = history_of(loaded)
    assert not history.simulated  # the recorded waits are the truth here
    split = history.split(0.7)
    predictor = Predictor.train(history, split, TreeParams(rounds=40))
    rows = np.arange(split, len(history), dtype=np.int64)
    waits = history.wait_s[rows].astype(float)
    preds = predictor.predict_rows(rows)
    p50 = np.array([p.wait.p50_s for p in preds])
    mean = float(np.mean(history.wait_s[:split]))
    assert np.median(np.abs(p50 - waits)) < 0.5 * np.median(np.abs(mean - waits))
    inside = np.mean([p.wait.p10_s <= w <= p.wait.p90_s for p, w in zip(preds, waits, strict=True)])
    assert 0.6 <= inside <= 0.95
