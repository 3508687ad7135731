"""The live bench's (job, moment) pairs: estimators judged on the same pairs only."""

from __future__ import annotations

import math

from bench.live_pairs import Asked, by_job, by_lead, errors, mae_ratio, pairs

T = 1_765_000_000
BOTH = ("ours", "slurm")


def test_only_pairs_every_estimator_gave_a_start_for_and_whose_job_started_count() -> None:
    asked = [
        Asked(1, T, {"ours": T + 100, "slurm": T + 300}),
        Asked(1, T + 60, {"ours": T + 90, "slurm": None}),  # Slurm had not planned it yet
        Asked(2, T, {"ours": T + 10, "slurm": T + 20}),  # never started
        Asked(3, T + 50, {"ours": T + 60, "slurm": T + 60}),  # started before the moment
    ]
    judged = pairs(asked, {1: T + 120, 3: T + 40}, BOTH)
    assert [(p.job_id, p.asked_s, p.lead_s) for p in judged] == [(1, T, 120)]
    assert judged[0].error_s("ours") == -20
    assert judged[0].error_s("slurm") == 180


def test_mae_median_bias_and_ratio_are_on_the_same_pairs() -> None:
    asked = [
        Asked(1, T, {"ours": T + 90, "slurm": T + 300}),
        Asked(2, T, {"ours": T + 210, "slurm": T + 100}),
        Asked(2, T + 10, {"ours": T + 210, "slurm": T + 220}),
    ]
    judged = pairs(asked, {1: T + 120, 2: T + 150}, BOTH)
    ours, slurm = errors(judged, BOTH).values()
    assert (ours.n, ours.mae_s, ours.median_s, ours.bias_s) == (3, 50, 60, 30)  # -30, 60, 60
    assert (slurm.mae_s, slurm.median_s) == (100, 70)  # 180, -50, 70
    assert mae_ratio(judged, "ours", "slurm") == 0.5


def test_an_exact_slurm_gives_an_infinite_ratio_unless_ours_is_exact_too() -> None:
    judged = pairs([Asked(1, T, {"ours": T + 5, "slurm": T + 9})], {1: T + 9}, BOTH)
    assert math.isinf(mae_ratio(judged, "ours", "slurm"))
    assert mae_ratio(judged, "slurm", "slurm") == 0


def test_errors_by_lead_time_and_by_job() -> None:
    asked = [
        Asked(1, T, {"ours": T + 10, "slurm": T + 20}),  # asked 10 s before its start
        Asked(2, T, {"ours": T + 100, "slurm": T + 500}),  # 300 s before
        Asked(2, T + 200, {"ours": T + 300, "slurm": T + 400}),  # 100 s before
    ]
    judged = pairs(asked, {1: T + 10, 2: T + 300}, BOTH)
    bins = by_lead(judged, BOTH, edges=(0, 60, 240))
    assert [(lo, hi, e["ours"].n, e["slurm"].mae_s) for lo, hi, e in bins] == [
        (0, 60, 1, 10),
        (60, 240, 1, 100),
        (240, None, 1, 200),
    ]
    assert [(lo, hi) for lo, hi, _ in by_lead(judged, BOTH, edges=(0, 60, 120, 240))] == [
        (0, 60), (60, 120), (240, None),
    ]  # fmt: skip
    per_job = by_job(judged, BOTH)
    assert per_job[2]["ours"].mae_s == 100 and per_job[2]["slurm"].mae_s == 150
