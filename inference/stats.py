"""Counters the engine keeps and the server exports as Prometheus metrics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class EngineStats:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    prefix_tokens_reused: int = 0
    draft_tokens: int = 0  # speculative tokens proposed
    accepted_draft_tokens: int = 0  # of those, kept because greedy decoding agreed
    queue_depth: int = 0
    batch_size: int = 0
    rejected: int = 0
    finished: dict[str, int] = field(default_factory=dict)
    ttft_s: deque[float] = field(default_factory=lambda: deque(maxlen=1024))
    ttft_sum_s: float = 0.0
    ttft_count: int = 0

    def observe_ttft(self, seconds: float) -> None:
        self.ttft_s.append(seconds)
        self.ttft_sum_s += seconds
        self.ttft_count += 1
