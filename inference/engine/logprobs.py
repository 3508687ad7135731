"""Token log-probabilities: taken by the engine from the logits it already has, and shaped
as OpenAI's `logprobs` objects (chat: a `content` list; completions: parallel lists).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from inference.engine.sequence import TokenLogprob
from inference.loading.tokenizer import Tokenizer

MAX_TOP_LOGPROBS = 20  # OpenAI's bound for chat's top_logprobs
_FLOOR = -9999.0  # JSON has no -inf; OpenAI reports impossible tokens at this value


def token_logprob(logprobs: torch.Tensor, token: int, top: int | None) -> TokenLogprob:
    """The logprob of `token` and the `top` likeliest tokens from a log-softmax row [V]."""
    chosen = float(logprobs[token])
    if not top:
        return TokenLogprob(token, chosen)
    values, ids = torch.topk(logprobs, min(top, logprobs.numel()))
    return TokenLogprob(token, chosen, tuple(zip(ids.tolist(), values.tolist(), strict=True)))


def _finite(logprob: float) -> float:
    return max(logprob, _FLOOR)


def _piece(tokenizer: Tokenizer, token_id: int) -> tuple[str, list[int]]:
    """A token's text (a split UTF-8 character shows as U+FFFD) and its raw bytes."""
    raw = tokenizer.token_bytes(token_id)
    return raw.decode("utf-8", errors="replace"), list(raw)


def chat_logprobs(tokenizer: Tokenizer, entries: Iterable[TokenLogprob]) -> dict[str, Any]:
    """A chat choice's `logprobs`: {"content": [{token, logprob, bytes, top_logprobs}]}."""
    content = []
    for entry in entries:
        text, raw = _piece(tokenizer, entry.token_id)
        top = []
        for token_id, logprob in entry.top:
            top_text, top_raw = _piece(tokenizer, token_id)
            top.append({"token": top_text, "logprob": _finite(logprob), "bytes": top_raw})
        content.append(
            {"token": text, "logprob": _finite(entry.logprob), "bytes": raw, "top_logprobs": top}
        )
    return {"content": content, "refusal": None}


def completion_logprobs(
    tokenizer: Tokenizer, entries: Iterable[TokenLogprob], offset: int = 0
) -> dict[str, Any]:
    """A completion choice's `logprobs`: tokens, token_logprobs, top_logprobs, text_offset;
    `offset` is where the first token starts in the whole completion's text (streaming)."""
    tokens: list[str] = []
    token_logprobs: list[float] = []
    tops: list[dict[str, float]] = []
    offsets: list[int] = []
    for entry in entries:
        text, _raw = _piece(tokenizer, entry.token_id)
        tokens.append(text)
        token_logprobs.append(_finite(entry.logprob))
        tops.append({_piece(tokenizer, t)[0]: _finite(lp) for t, lp in entry.top})
        offsets.append(offset)
        offset += len(text)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": tops,
        "text_offset": offsets,
    }
