"""(job, moment) pairs of live start estimates, judged once the jobs have started.

bench/predict_live.py asks about every pending job at several moments; each estimator's
predicted start is compared with the real start on the pairs where every estimator gave one,
so that their errors are measured on the same jobs at the same moments. Times are seconds
since the Unix epoch.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LEAD_EDGES_S = (0, 30, 60, 120, 240)  # how long before its real start a job was asked about


@dataclass(frozen=True, slots=True)
class Asked:
    """One pending job asked about at `asked_s`: each estimator's start (None: it had none)."""

    job_id: int
    asked_s: int
    starts: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class Pair:
    """An asked job that started at `actual_s`, with every estimator's start."""

    job_id: int
    asked_s: int
    actual_s: int
    starts: Mapping[str, float]

    @property
    def lead_s(self) -> int:
        return self.actual_s - self.asked_s

    def error_s(self, estimator: str) -> float:
        """Signed: positive when the estimator said later than the job started."""
        return self.starts[estimator] - self.actual_s


def pairs(
    asked: Sequence[Asked], actual: Mapping[int, int], estimators: Sequence[str]
) -> list[Pair]:
    """The asked (job, moment)s whose job started and for which every one of `estimators`
    gave a start; a job that started before it was asked about is left out (it was no longer
    pending: the snapshot was older than the start)."""
    out = []
    for a in asked:
        start = actual.get(a.job_id)
        given = {e: a.starts.get(e) for e in estimators}
        if start is None or start < a.asked_s:
            continue
        known = {e: s for e, s in given.items() if s is not None}
        if len(known) == len(estimators):
            out.append(Pair(a.job_id, a.asked_s, start, known))
    return out


@dataclass(frozen=True, slots=True)
class Errors:
    """One estimator's errors on `n` pairs: mean absolute (MAE), median absolute, mean
    signed (its bias: positive says later than real)."""

    n: int
    mae_s: float
    median_s: float
    bias_s: float

    @classmethod
    def of(cls, judged: Sequence[Pair], estimator: str) -> Errors:
        if not judged:
            return cls(0, float("nan"), float("nan"), float("nan"))
        signed = [p.error_s(estimator) for p in judged]
        absolute = [abs(e) for e in signed]
        return cls(
            len(judged), statistics.fmean(absolute), statistics.median(absolute),
            statistics.fmean(signed),
        )  # fmt: skip


def errors(judged: Sequence[Pair], estimators: Sequence[str]) -> dict[str, Errors]:
    return {e: Errors.of(judged, e) for e in estimators}


def mae_ratio(judged: Sequence[Pair], ours: str, theirs: str) -> float:
    """MAE of `ours` over that of `theirs` on the same pairs (inf: theirs was exact)."""
    mine, other = Errors.of(judged, ours).mae_s, Errors.of(judged, theirs).mae_s
    return mine / other if other > 0 else (0.0 if mine == 0 else float("inf"))


def by_lead(
    judged: Sequence[Pair], estimators: Sequence[str], edges: Sequence[int] = LEAD_EDGES_S
) -> list[tuple[int, int | None, dict[str, Errors]]]:
    """Errors by how long before the real start the job was asked about: (from, to, errors)
    per bin of `edges`, the last bin open-ended (to None); empty bins left out."""
    bounds = [*itertools.pairwise(edges), (edges[-1], None)]
    out = []
    for lo, hi in bounds:
        inside = [p for p in judged if p.lead_s >= lo and (hi is None or p.lead_s < hi)]
        if inside:
            out.append((lo, hi, errors(inside, estimators)))
    return out


def by_job(judged: Sequence[Pair], estimators: Sequence[str]) -> dict[int, dict[str, Errors]]:
    """Errors of each job over the moments it was asked about, by job id."""
    jobs: dict[int, list[Pair]] = {}
    for p in judged:
        jobs.setdefault(p.job_id, []).append(p)
    return {job: errors(ps, estimators) for job, ps in jobs.items()}
