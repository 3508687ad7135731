"""Counters and latency histograms the engine keeps and the server exports to Prometheus.

The engine thread writes them; a scrape reads them from the server's thread. Each histogram
takes a lock so a scrape never sees a count without its sum.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

# Bucket upper bounds in seconds (vLLM's, trimmed): a CPU step takes 10-100 ms, a long
# prompt's first token several seconds, a whole answer up to the request limit.
TTFT_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
ITL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5)
E2E_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0, 120.0, 300.0, 600.0)


class Histogram:
    """Observations counted into fixed buckets (upper bounds in seconds), with their sum."""

    def __init__(self, bounds_s: tuple[float, ...]) -> None:
        self.bounds_s = bounds_s
        self._counts = [0] * (len(bounds_s) + 1)  # the last one: above every bound
        self._sum_s = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.bounds_s, seconds)] += 1
            self._sum_s += seconds

    def snapshot(self) -> tuple[list[tuple[str, int]], float]:
        """Cumulative (upper bound, count) pairs ending with "+Inf", and the sum in seconds."""
        with self._lock:
            counts, total_s = list(self._counts), self._sum_s
        cumulative, running = [], 0
        for bound, count in zip([*map(str, self.bounds_s), "+Inf"], counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return cumulative, total_s

    @property
    def count(self) -> int:
        with self._lock:
            return sum(self._counts)


@dataclass(slots=True)
class EngineStats:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    prefix_cache_queries: int = 0  # prompt tokens looked up in the prefix cache
    prefix_cache_hits: int = 0  # of those, served from it (their K/V copied, not computed)
    draft_tokens: int = 0  # speculative tokens proposed
    accepted_draft_tokens: int = 0  # of those, kept because greedy decoding agreed
    rejected: int = 0
    finished: dict[str, int] = field(default_factory=dict)
    ttft: Histogram = field(default_factory=lambda: Histogram(TTFT_BUCKETS_S))
    inter_token: Histogram = field(default_factory=lambda: Histogram(ITL_BUCKETS_S))
    e2e: Histogram = field(default_factory=lambda: Histogram(E2E_BUCKETS_S))
