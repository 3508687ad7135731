"""Prometheus exposition of the engine's counters: queue depth, batch size, tokens/s, TTFT."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from inference.stats import EngineStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _EngineCollector(Collector):
    def __init__(self, stats: EngineStats) -> None:
        self.stats = stats
        self._last = (time.monotonic(), stats.generated_tokens)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | SummaryMetricFamily]:
        s = self.stats
        yield GaugeMetricFamily("schedsight_llm_queue_depth", "requests waiting", s.queue_depth)
        yield GaugeMetricFamily("schedsight_llm_batch_size", "sequences decoding", s.batch_size)
        counters = (
            ("prompt_tokens", "prompt tokens computed", s.prompt_tokens),
            ("generated_tokens", "tokens generated", s.generated_tokens),
            ("prefix_reused_tokens", "prompt tokens served from the prefix cache",
             s.prefix_tokens_reused),
            ("draft_tokens", "speculative tokens proposed", s.draft_tokens),
            ("draft_tokens_accepted", "speculative tokens kept", s.accepted_draft_tokens),
            ("rejected", "requests refused (429)", s.rejected),
        )  # fmt: skip
        for name, help_text, count in counters:
            yield CounterMetricFamily(f"schedsight_llm_{name}", help_text, count)
        finished = CounterMetricFamily(
            "schedsight_llm_requests_finished", "requests by finish reason", labels=["reason"]
        )
        for reason, count in sorted(s.finished.items()):
            finished.add_metric([reason], count)
        yield finished
        now, tokens = time.monotonic(), s.generated_tokens
        then, before = self._last
        self._last = (now, tokens)
        rate = (tokens - before) / (now - then) if now > then else 0.0
        yield GaugeMetricFamily(
            "schedsight_llm_tokens_per_second", "generation rate since the last scrape", rate
        )
        yield SummaryMetricFamily(
            "schedsight_llm_time_to_first_token_seconds",
            "time from submission to the first token",
            count_value=s.ttft_count,
            sum_value=s.ttft_sum_s,
        )
        recent = sorted(s.ttft_s)
        quantiles = GaugeMetricFamily(
            "schedsight_llm_ttft_recent_seconds",
            "time to first token over the last 1024 requests",
            labels=["quantile"],
        )
        for q in (0.5, 0.95):
            value = recent[min(int(q * len(recent)), len(recent) - 1)] if recent else 0.0
            quantiles.add_metric([str(q)], value)
        yield quantiles


class MetricsExporter:
    """One registry per engine, so rates are measured between scrapes."""

    def __init__(self, stats: EngineStats) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_EngineCollector(stats))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE
