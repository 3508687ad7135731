"""The accuracy report of live start predictions: calibration, band coverage, errors."""

from __future__ import annotations

from hpc.predict.accuracy import LivePrediction, LiveRecord, accuracy_report

DAY = 86_400
T0 = 1_765_000_000 - 1_765_000_000 % DAY  # a UTC midnight


def _record(made_s: int, actual_s: float | None, chance: float, **kw: float) -> LiveRecord:
    p = LivePrediction(
        cluster="dev", job_id=1, partition="batch", asked_by="when", made_s=made_s,
        model="m", p50_s=made_s + 600, p10_s=made_s + 100, p90_s=made_s + 1000,
        likely_from_s=made_s + 500, likely_to_s=made_s + 700, likely_chance=chance,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return LiveRecord(p, None if actual_s is None else made_s + actual_s)


def test_no_outcomes_says_where_they_come_from() -> None:
    report = accuracy_report([_record(T0, None, 0.5)])
    assert (report.predictions, report.judged) == (1, 0)
    assert "no outcomes yet" in "\n".join(report.lines(str))


def test_stated_chance_is_set_against_the_hit_rate_per_bin() -> None:
    records = [
        _record(T0, 600, 0.5),  # in the window
        _record(T0, 2000, 0.5),  # out of the window and out of the band
        _record(T0, 600, 0.9),
        _record(T0, None, 0.9),  # not started: not judged
    ]
    report = accuracy_report(records)
    assert [(b.lo, b.n, b.stated, b.hit_rate) for b in report.calibration] == [
        (0.4, 2, 0.5, 0.5),
        (0.8, 1, 0.9, 1.0),
    ]
    assert (report.band_n, report.band_coverage) == (3, 2 / 3)


def test_errors_compare_the_three_estimates_on_the_same_predictions_and_per_day() -> None:
    records = [
        _record(T0, 600, 0.5, plan_s=T0 + 900, slurm_s=T0 + 3600),
        _record(T0 + DAY, 1200, 0.5, plan_s=T0 + DAY + 1200, slurm_s=T0 + DAY),
        _record(T0 + DAY, 0, 0.5),  # no plan, no Slurm estimate: the model's only
    ]
    report = accuracy_report(records)
    assert report.compared["model"].n == 2
    assert report.compared["model"].mean_s == 300  # |600-600|, |600-1200|
    assert report.compared["plan"].mean_s == 150
    assert report.compared["slurm"].median_s == (3000 + 1200) / 2
    assert report.overall["model"].n == 3
    assert [d.errors["model"].n for d in report.days] == [1, 2]
    assert report.as_dict()["per_day"][1]["plan"] == {"n": 1, "median_s": 0.0, "mean_s": 0.0}
