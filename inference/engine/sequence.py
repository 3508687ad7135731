"""A request inside the engine: its tokens, sampling parameters, state and output channel.

States move WAITING -> PREFILLING -> DECODING -> FINISHED (or straight to FINISHED when
cancelled). The engine thread owns every field except `cancelled`, which a client may set.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch

_ids = itertools.count(1)


class SeqStatus(Enum):
    WAITING = "waiting"
    PREFILLING = "prefilling"
    DECODING = "decoding"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to pick tokens: temperature 0 is greedy; `seed` makes sampling reproducible."""

    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no limit
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None  # None: none; k: the sampled token's and the k likeliest

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")
        if self.logprobs is not None and self.logprobs < 0:
            raise ValueError("logprobs must be >= 0")


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """A generated token's log-probability under the model (before masks and temperature)
    and the `top` likeliest tokens with theirs, likeliest first."""

    token_id: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


@dataclass(slots=True)
class Event:
    """What the engine tells a request's owner: new text, and at the end why it stopped."""

    text: str = ""
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()  # one per token id, when the request asked
    finish_reason: str | None = None  # "stop", "length", "cancelled", "error"
    error: str | None = None


@dataclass(eq=False, slots=True)
class Sequence:
    prompt_ids: list[int]
    params: SamplingParams
    emit: Callable[[Event], None]  # thread-safe callback into the owner's event loop
    constraint: Any = None  # inference.structured.constraints.Constraint, when output is structured
    id: int = field(default_factory=lambda: next(_ids))
    status: SeqStatus = SeqStatus.WAITING
    slot: int = -1
    cached: int = 0  # prompt tokens whose K/V are in the cache
    output_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)  # per output id, when asked
    text: str = ""  # decoded output so far
    emitted: int = 0  # characters of `text` already sent
    reported: int = 0  # tokens of `output_ids` already sent in an event's token_ids
    decoder: Any = None  # tokenizer StreamDecoder
    stopper: Any = None  # StopChecker for params.stop
    generator: torch.Generator | None = None
    drafter: Any = None  # inference.engine.speculation.NgramDrafter, for greedy sequences
    cancelled: bool = False
    reused_prefix: int = 0  # prompt tokens whose K/V came from the prefix cache
    created_s: float = field(default_factory=time.perf_counter)
    first_token_s: float | None = None
    last_token_s: float | None = None  # perf_counter of the latest token, for inter-token latency

    @property
    def length(self) -> int:
        """Tokens this sequence holds in the cache once its last token is written."""
        return len(self.prompt_ids) + len(self.output_ids)

    def tokens_left(self, max_seq_len: int) -> int:
        """Tokens it may still generate before max_tokens or a context of `max_seq_len` ends it."""
        return min(self.params.max_tokens - len(self.output_ids), max_seq_len - self.length)
