"""Prometheus exposition of the engine: latency histograms (time to first token, between
tokens, whole request), requests running and waiting, KV-cache usage, prefix-cache hits,
and token counters. Every name starts with `schedsight_llm_`.

Only counters, gauges of the present and histograms: rates are the scraper's to compute
(`rate(schedsight_llm_generation_tokens_total[1m])`), right for any number of scrapers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from inference.engine.stats import Histogram

if TYPE_CHECKING:
    from inference.engine.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "schedsight_llm_"


class _EngineCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        engine, s = self.engine, self.engine.stats
        gauges = (
            ("requests_running", "requests holding a cache slot (prefill or decode)",
             engine.running_count),
            ("requests_waiting", "requests queued for a cache slot", engine.queue_depth),
            ("kv_cache_usage_ratio", "fraction of the KV cache's token positions in use (0-1)",
             engine.kv_cache_usage),
        )  # fmt: skip
        for name, help_text, value in gauges:
            yield GaugeMetricFamily(PREFIX + name, help_text, value)
        counters = (
            ("prompt_tokens", "prompt tokens computed", s.prompt_tokens),
            ("generation_tokens", "tokens generated", s.generated_tokens),
            ("prefix_cache_queries", "prompt tokens looked up in the prefix cache",
             s.prefix_cache_queries),
            ("prefix_cache_hits", "prompt tokens served from the prefix cache",
             s.prefix_cache_hits),
            ("draft_tokens", "speculative tokens proposed", s.draft_tokens),
            ("draft_tokens_accepted", "speculative tokens kept", s.accepted_draft_tokens),
            ("requests_rejected", "requests refused because the queue was full (429)",
             s.rejected),
        )  # fmt: skip
        for name, help_text, count in counters:
            yield CounterMetricFamily(PREFIX + name, help_text, count)
        finished = CounterMetricFamily(
            PREFIX + "requests_finished", "requests by finish reason", labels=["reason"]
        )
        for reason, count in sorted(dict(s.finished).items()):
            finished.add_metric([reason], count)
        yield finished
        yield _histogram(
            "time_to_first_token_seconds", "from submission to the first token", s.ttft
        )
        yield _histogram(
            "inter_token_latency_seconds", "between consecutive tokens of a request", s.inter_token
        )
        yield _histogram(
            "e2e_request_latency_seconds", "from submission to the end, any reason", s.e2e
        )


def _histogram(name: str, help_text: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets, total_s = histogram.snapshot()
    return HistogramMetricFamily(
        PREFIX + name, help_text, buckets=[(b, float(c)) for b, c in buckets], sum_value=total_s
    )


class MetricsExporter:
    """One registry per engine: what `/metrics` renders."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_EngineCollector(engine))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE
