"""How right the live start predictions were, once the jobs started: the likely window's
stated chance against its hit rate (binned), the p10-p90 band's coverage, and the absolute
error of the model's median next to the forward plan's and Slurm's own planned start, on the
same predictions and per day. Times are seconds since the epoch."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CHANCE_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # calibration bins of the stated chance
ESTIMATES = ("model", "plan", "slurm")


@dataclass(frozen=True, slots=True)
class LivePrediction:
    """One prediction of a live job's start, asked at `made_s`. `p10_s`/`p90_s` and the
    likely window are None where only a median was made (`slurm status`); `plan_s` and
    `slurm_s` None where that estimate had none."""

    cluster: str
    job_id: int
    partition: str
    asked_by: str  # "when", "api", "status" or "dashboard"
    made_s: int
    model: str
    p50_s: float
    p10_s: float | None = None
    p90_s: float | None = None
    likely_from_s: float | None = None
    likely_to_s: float | None = None
    likely_chance: float | None = None  # 0-1
    plan_s: float | None = None  # the twin's forward plan
    slurm_s: float | None = None  # Slurm's own planned start
    model_id: int | None = None

    def estimate(self, which: str) -> float | None:
        """The start that `which` (one of ESTIMATES) predicted."""
        return {"model": self.p50_s, "plan": self.plan_s, "slurm": self.slurm_s}[which]


@dataclass(frozen=True, slots=True)
class LiveRecord:
    """A stored prediction and the job's actual start (None: not started yet)."""

    prediction: LivePrediction
    actual_s: float | None

    def error_s(self, which: str) -> float | None:
        """|predicted - actual| start of estimate `which`; None where either is unknown."""
        guess = self.prediction.estimate(which)
        if guess is None or self.actual_s is None:
            return None
        return abs(guess - self.actual_s)


@dataclass(frozen=True, slots=True)
class Errors:
    """Absolute start errors of `n` predictions."""

    n: int
    median_s: float | None
    mean_s: float | None

    @classmethod
    def of(cls, errors: Sequence[float]) -> Errors:
        if not errors:
            return cls(0, None, None)
        return cls(len(errors), statistics.median(errors), statistics.fmean(errors))


@dataclass(frozen=True, slots=True)
class ChanceBin:
    """Likely windows whose stated chance fell in [lo, hi): mean stated chance, hit rate."""

    lo: float
    hi: float
    n: int
    stated: float
    hit_rate: float


@dataclass(frozen=True, slots=True)
class DayErrors:
    day: str  # UTC, "YYYY-MM-DD", of when the predictions were made
    errors: dict[str, Errors]  # by estimate


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    predictions: int  # stored
    judged: int  # with an outcome
    calibration: tuple[ChanceBin, ...]
    band_n: int
    band_coverage: float | None  # share of actual starts within p10-p90
    compared: dict[str, Errors]  # by estimate, on the predictions all three made
    overall: dict[str, Errors]  # by estimate, on every prediction it made
    days: tuple[DayErrors, ...]

    def as_dict(self) -> dict[str, object]:
        def errors(e: dict[str, Errors]) -> dict[str, object]:
            return {k: {"n": v.n, "median_s": v.median_s, "mean_s": v.mean_s} for k, v in e.items()}

        return {
            "predictions": self.predictions,
            "judged": self.judged,
            "calibration": [
                {
                    "chance_from": b.lo,
                    "chance_to": b.hi,
                    "n": b.n,
                    "stated": b.stated,
                    "hit_rate": b.hit_rate,
                }
                for b in self.calibration
            ],
            "band": {"n": self.band_n, "coverage": self.band_coverage},
            "same_predictions": errors(self.compared),
            "all_predictions": errors(self.overall),
            "per_day": [{"day": d.day, **errors(d.errors)} for d in self.days],
        }

    def lines(self, span: Callable[[float], str]) -> list[str]:
        """The report as text, durations through `span` (e.g. hpc.timetext.span_text)."""
        out = [f"{self.judged} of {self.predictions} stored predictions have an outcome"]
        if not self.judged:
            return [*out, "no outcomes yet: they come with `schedsight slurm import`, `slurm "
                    "status` or `when` once the predicted jobs have started"]  # fmt: skip
        out.append("likely window, stated chance vs hit rate:")
        for b in self.calibration:
            out.append(
                f"  {b.lo:.0%}-{b.hi:.0%}: {b.n} windows, stated {b.stated:.0%}, "
                f"hit {b.hit_rate:.0%}"
            )
        if self.band_coverage is not None:
            out.append(f"p10-p90 band: covers {self.band_coverage:.0%} of {self.band_n} starts")

        def row(name: str, e: Errors) -> str:
            if e.median_s is None or e.mean_s is None:
                return f"  {name:<14} -"
            return f"  {name:<14} median {span(e.median_s)}, mean {span(e.mean_s)} ({e.n})"

        names = {"model": "model p50", "plan": "forward plan", "slurm": "Slurm's plan"}
        out.append("absolute start error, on the predictions all three made:")
        out.extend(row(names[k], self.compared[k]) for k in ESTIMATES)
        out.append("absolute start error, each on every prediction it made:")
        out.extend(row(names[k], self.overall[k]) for k in ESTIMATES)
        out.append("per day (made, UTC): model / plan / Slurm median error")
        for d in self.days:
            cells = ["-" if (m := d.errors[k].median_s) is None else span(m) for k in ESTIMATES]
            out.append(f"  {d.day}: {' / '.join(cells)} ({d.errors['model'].n})")
        return out


def accuracy_report(records: Sequence[LiveRecord]) -> AccuracyReport:
    judged = [r for r in records if r.actual_s is not None]
    banded = [
        r for r in judged if r.prediction.p10_s is not None and r.prediction.p90_s is not None
    ]
    covered = sum(_within(r, r.prediction.p10_s, r.prediction.p90_s) for r in banded)
    compared = [r for r in judged if all(r.prediction.estimate(k) is not None for k in ESTIMATES)]
    by_day: dict[str, list[LiveRecord]] = {}
    for r in judged:
        by_day.setdefault(time.strftime("%Y-%m-%d", time.gmtime(r.prediction.made_s)), []).append(r)
    return AccuracyReport(
        predictions=len(records),
        judged=len(judged),
        calibration=_calibration(judged),
        band_n=len(banded),
        band_coverage=covered / len(banded) if banded else None,
        compared=_errors(compared),
        overall=_errors(judged),
        days=tuple(DayErrors(day, _errors(rs)) for day, rs in sorted(by_day.items())),
    )


def _errors(records: Sequence[LiveRecord]) -> dict[str, Errors]:
    return {
        k: Errors.of([e for r in records if (e := r.error_s(k)) is not None]) for k in ESTIMATES
    }


def _within(r: LiveRecord, lo: float | None, hi: float | None) -> bool:
    return lo is not None and hi is not None and r.actual_s is not None and lo <= r.actual_s <= hi


def _calibration(judged: Sequence[LiveRecord]) -> tuple[ChanceBin, ...]:
    bins = []
    for lo, hi in itertools.pairwise(CHANCE_EDGES):
        last = hi == CHANCE_EDGES[-1]
        inside = [
            r
            for r in judged
            if (c := r.prediction.likely_chance) is not None and lo <= c and (c < hi or last)
        ]
        if inside:
            hits = sum(
                _within(r, r.prediction.likely_from_s, r.prediction.likely_to_s) for r in inside
            )
            stated = statistics.fmean(r.prediction.likely_chance or 0.0 for r in inside)
            bins.append(ChanceBin(lo, hi, len(inside), stated, hits / len(inside)))
    return tuple(bins)
