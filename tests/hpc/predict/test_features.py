"""Features see only what was known at submit time, and describe the queue correctly."""

from __future__ import annotations

import dataclasses

import numpy as np

from hpc.predict.features import COLUMN, FeatureIndex, request_of
from hpc.predict.history import History


def test_the_future_does_not_change_a_jobs_features(history: History) -> None:
    row = 700
    before = FeatureIndex(history).row(request_of(history, row), upper=row)
    jobs = history.jobs
    # Rewrite every later job (runtimes, sizes, starts) as if the future had gone otherwise.
    later = slice(row, None)
    run = jobs.run_s.copy()
    run[later] = 1
    start = history.start_s.copy()
    start[later] = jobs.submit_s[later] + 5
    changed = dataclasses.replace(
        history, jobs=dataclasses.replace(jobs, run_s=run), start_s=start, end_s=start + run
    )
    after = FeatureIndex(changed).row(request_of(changed, row), upper=row)
    np.testing.assert_array_equal(np.nan_to_num(before), np.nan_to_num(after))


def test_queue_state_matches_a_direct_count(history: History) -> None:
    index = FeatureIndex(history)
    for row in (300, 600, 900):
        t = int(history.jobs.submit_s[row])
        f = index.row(request_of(history, row), upper=row)
        earlier = np.arange(row)
        running = earlier[(history.start_s[:row] < t) & (history.end_s[:row] > t)]
        queued = earlier[history.start_s[:row] >= t]
        assert f[COLUMN["running_jobs"]] == len(running)
        assert f[COLUMN["queued_jobs"]] == len(queued)
        busy = int(history.units[running].sum())
        assert f[COLUMN["free_units"]] == history.machine.units - busy


def test_no_wait_for_free_units_when_the_job_fits_now(history: History) -> None:
    index = FeatureIndex(history)
    x = index.rows(np.arange(200, 1000, dtype=np.int64))
    fits = x[:, COLUMN["units"]] <= x[:, COLUMN["free_units"]]
    assert fits.any() and (~fits).any()
    assert np.all(x[fits, COLUMN["fit_req_h"]] == 0)
    assert np.all(x[~fits, COLUMN["fit_req_h"]] > 0)
