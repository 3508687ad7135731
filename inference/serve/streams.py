"""Streamed answers: engine events as OpenAI chat and completion chunks, sent as server-sent
events, ending in `data: [DONE]` even when the request fails half-way (as an error chunk).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from inference.engine.logprobs import chat_logprobs, completion_logprobs
from inference.engine.sequence import Event, TokenLogprob
from inference.errors import InferenceError, RequestTimeoutError
from inference.loading.tokenizer import Tokenizer
from inference.serve.chat import Prepared, assistant_message
from inference.serve.events import Tally
from inference.serve.protocol import chat_chunk, completion_response, error_body, usage_chunk

log = logging.getLogger(__name__)


def sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\n\n"
        except InferenceError as exc:
            kind = "timeout_error" if isinstance(exc, RequestTimeoutError) else "server_error"
            yield f"data: {json.dumps(error_body(str(exc), kind=kind))}\n\n"
        except Exception:  # the status is sent already: the client learns it in the stream
            log.exception("a streamed answer failed")
            body = error_body("the server failed while streaming the answer", kind="server_error")
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


async def chat_stream(
    rid: str,
    model: str,
    prepared: Prepared,
    events: AsyncIterator[Event],
    include_usage: bool,
    tokenizer: Tokenizer,
) -> AsyncIterator[dict[str, Any]]:
    yield chat_chunk(rid=rid, model=model, delta={"role": "assistant", "content": ""})
    held: list[str] = []  # with tools the whole answer decides: text or a tool call
    held_logprobs: list[TokenLogprob] = []
    tally = Tally(events)
    async for event in tally:
        if prepared.tools:
            held.append(event.text)
            held_logprobs.extend(event.logprobs)
        elif event.text or event.logprobs:
            logprobs = chat_logprobs(tokenizer, event.logprobs) if event.logprobs else None
            content = {"content": event.text}
            yield chat_chunk(rid=rid, model=model, delta=content, logprobs=logprobs)
        if event.finish_reason is not None:
            reason = event.finish_reason
            if prepared.tools:
                message, is_call = assistant_message("".join(held), prepared.tools)
                delta = {k: v for k, v in message.items() if k != "role"}
                if is_call:
                    for i, call in enumerate(delta["tool_calls"]):
                        call["index"] = i
                    reason = "tool_calls"
                logprobs = chat_logprobs(tokenizer, held_logprobs) if held_logprobs else None
                yield chat_chunk(rid=rid, model=model, delta=delta, logprobs=logprobs)
            yield chat_chunk(rid=rid, model=model, delta={}, finish_reason=reason)
    if include_usage:
        yield usage_chunk(
            rid, model, "chat.completion.chunk", len(prepared.prompt_ids), tally.tokens
        )


async def completion_stream(
    rid: str,
    model: str,
    prepared: Prepared,
    events: AsyncIterator[Event],
    include_usage: bool,
    tokenizer: Tokenizer,
) -> AsyncIterator[dict[str, Any]]:
    tally = Tally(events)
    offset = 0  # where the next token starts in the whole completion's text
    async for event in tally:
        logprobs = None
        if prepared.params.logprobs is not None:
            logprobs = completion_logprobs(tokenizer, event.logprobs, offset)
            offset += sum(map(len, logprobs["tokens"]))
        yield completion_response(
            rid=rid,
            model=model,
            text=event.text,
            finish_reason=event.finish_reason,
            chunk=True,
            logprobs=logprobs,
        )
    if include_usage:
        yield usage_chunk(rid, model, "text_completion", len(prepared.prompt_ids), tally.tokens)
