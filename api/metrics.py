"""Prometheus exposition of the stored live predictions (`db.predictions`): histograms of the
predicted wait per partition, and of the absolute start error of each estimate (the model's
median, the forward plan, Slurm's own plan) once the job started. Every name starts with
`schedsight_prediction_`.

Read from the store at each scrape, so every prediction counts, whichever process made it
(`schedsight when`, `slurm status`, any API worker); the histograms only grow while rows are
kept, as Prometheus expects of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from db.predictions import live_records
from db.store import Store
from hpc.predict.accuracy import ESTIMATES, LiveRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "schedsight_prediction_"
BUCKETS_S = (60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0, 259200.0)


class _PredictionCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        with self.store.sessions() as session:
            records = live_records(session)
        waits = HistogramMetricFamily(
            PREFIX + "wait_seconds",
            "predicted wait (model median start - when asked) per partition",
            labels=["partition"],
        )
        for partition in sorted({r.prediction.partition for r in records}):
            values = [
                max(r.prediction.p50_s - r.prediction.made_s, 0.0)
                for r in records
                if r.prediction.partition == partition
            ]
            waits.add_metric([partition], *_buckets(values))
        yield waits
        errors = HistogramMetricFamily(
            PREFIX + "abs_error_seconds",
            "|predicted - actual| start of started jobs, per estimate (model, plan, slurm)",
            labels=["estimate"],
        )
        for estimate in ESTIMATES:
            errors.add_metric([estimate], *_buckets(_errors(records, estimate)))
        yield errors


def _errors(records: Iterable[LiveRecord], estimate: str) -> list[float]:
    return [e for r in records if (e := r.error_s(estimate)) is not None]


def _buckets(values: list[float]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative bucket counts (with +Inf) and the sum, as HistogramMetricFamily takes them."""
    ordered = sorted(values)
    counts = [(str(b), float(bisect.bisect_right(ordered, b))) for b in BUCKETS_S]
    return [*counts, ("+Inf", float(len(ordered)))], float(sum(ordered))


class PredictionMetrics:
    """One registry per app: what `/metrics` renders."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_PredictionCollector(store))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE
