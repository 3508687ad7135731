"""The Accuracy page's figures: how right the stored live start predictions of a cluster were,
judged by `db.predictions.live_report` (the computation `schedsight predict report` prints),
as tables with times as people read them. Pure logic, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.predictions import live_clusters, live_report
from db.store import Store
from hpc.predict.accuracy import ESTIMATES, AccuracyReport, Errors
from hpc.timetext import span_text

NAMES = {
    "model": "schedsight model (median)",
    "plan": "schedsight forward plan",
    "slurm": "Slurm's own estimate",
}
SOURCES = (
    "`schedsight when JOBID`, the portal API (`schedsight serve-api`) and `schedsight slurm "
    "status` store each prediction they make for a pending job"
)
OUTCOMES = (
    "a prediction is judged once its job has started: `schedsight slurm import`, or the next "
    "`when` or `slurm status` that sees the job running, stores the actual start beside it"
)


def clusters(store: Store) -> list[str]:
    """The clusters with stored live predictions."""
    with store.sessions() as session:
        return live_clusters(session)


@dataclass(frozen=True, slots=True)
class AccuracyView:
    """`report` of the predictions of `cluster` (None: every cluster), for the page."""

    cluster: str | None
    report: AccuracyReport

    @classmethod
    def of(cls, store: Store, cluster: str | None) -> AccuracyView:
        with store.sessions() as session:
            return cls(cluster, live_report(session, cluster=cluster))

    @property
    def where(self) -> str:
        return f"cluster {self.cluster}" if self.cluster else "any cluster"

    def empty(self) -> str | None:
        """Why there is nothing to judge yet, in words (None: there is)."""
        r = self.report
        if not r.predictions:
            return f"No live start predictions are stored for {self.where} yet: {SOURCES}."
        if not r.judged:
            return (
                f"{r.predictions} predictions are stored for {self.where}, but none of their "
                f"jobs has started yet, so none can be judged: {OUTCOMES}."
            )
        return None

    def summary(self) -> str:
        r = self.report
        band = (
            f"; the p10-p90 band held {r.band_coverage:.0%} of {r.band_n} actual starts "
            "(80% is calibrated)"
            if r.band_coverage is not None
            else ""
        )
        return f"{r.judged} of {r.predictions} stored predictions have an outcome{band}."

    def calibration_rows(self) -> list[dict[str, Any]]:
        """Per stated-chance bin of the likely window: stated chance against its hit rate."""
        return [
            {"stated chance": f"{b.lo:.0%}-{b.hi:.0%}", "windows": b.n,
             "stated (mean)": f"{b.stated:.0%}", "hit": f"{b.hit_rate:.0%}",
             "hit - stated (points)": round(100 * (b.hit_rate - b.stated))}
            for b in self.report.calibration
        ]  # fmt: skip

    def error_rows(self) -> list[dict[str, Any]]:
        """Per estimate: the absolute start error on the predictions all three made, and on
        every prediction it made."""
        r = self.report
        return [
            {"estimate": NAMES[k], **_errors("same jobs", r.compared[k]),
             **_errors("all its jobs", r.overall[k])}
            for k in ESTIMATES
        ]  # fmt: skip

    def day_rows(self) -> list[dict[str, Any]]:
        """Per day the predictions were made (UTC): each estimate's median error."""
        return [
            {"day": d.day, "predictions": d.errors["model"].n,
             **{NAMES[k]: _span(d.errors[k].median_s) for k in ESTIMATES}}
            for d in self.report.days
        ]  # fmt: skip

    def day_series(self) -> list[dict[str, Any]]:
        """The same, long and in minutes, for a chart (days without an estimate left out)."""
        return [
            {"day": d.day, "estimate": NAMES[k], "median error (min)": round(m / 60, 1)}
            for d in self.report.days
            for k in ESTIMATES
            if (m := d.errors[k].median_s) is not None
        ]


def _errors(which: str, e: Errors) -> dict[str, Any]:
    return {
        f"median error, {which}": _span(e.median_s),
        f"mean error, {which}": _span(e.mean_s),
        f"predictions, {which}": e.n,
    }


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else span_text(seconds)
