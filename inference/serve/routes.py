"""The server's routes: health and metrics (open), and behind the API key `/v1/models`, chat
completions and text completions, streamed as server-sent events or answered whole.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inference.engine.logprobs import chat_logprobs, completion_logprobs
from inference.errors import UnknownModelError
from inference.serve.chat import assistant_message, prepare_chat, prepare_completion
from inference.serve.deps import ServerState, State, authorize
from inference.serve.events import collect, engine_events
from inference.serve.protocol import (
    ChatRequest,
    CompletionRequest,
    chat_response,
    completion_response,
    new_id,
)
from inference.serve.streams import chat_stream, completion_stream, sse

router = APIRouter()
v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])


def check_model(state: ServerState, name: str) -> None:
    if name != state.model_name:
        raise UnknownModelError(name)


@router.get("/health")
async def health(state: State) -> dict[str, Any]:
    engine = state.engine
    return {
        "status": "ok",
        "model": state.model_name,
        "weights": engine.weights,
        # Draft widths verified exact at start-up (empty: no speculation on this build).
        "speculation_widths": sorted(engine.widths.widths),
        # Decode steps through the compiled C++ blocks (inference/fused/).
        "fused_decode": engine.fused_decode,
        "queue_depth": engine.queue_depth,
    }


@router.get("/metrics")
async def metrics(state: State) -> Response:
    body, content_type = state.exporter.render()
    return Response(body, media_type=content_type)


@v1.get("/models")
async def models(state: State) -> dict[str, Any]:
    card = {
        "id": state.model_name,
        "object": "model",
        "created": int(state.started_s),
        "owned_by": "local",
    }
    return {"object": "list", "data": [card]}


@v1.post("/chat/completions")
async def chat(req: ChatRequest, request: Request, state: State) -> Any:
    check_model(state, req.model)
    engine, tokenizer, model_name = state.engine, state.engine.tokenizer, state.model_name
    # Rendering, tokenizing and compiling a grammar take a while for a long request:
    # in a thread, so /health and the other clients' streams go on meanwhile.
    prepared = await asyncio.to_thread(
        prepare_chat,
        req,
        tokenizer=tokenizer,
        template=engine.loaded.chat_template,
        grammar=state.grammar,
        max_seq_len=engine.max_seq_len,
    )
    rid = new_id("chatcmpl")
    if req.stream:
        events = engine_events(engine, prepared, state.request_timeout_s)
        chunks = chat_stream(rid, model_name, prepared, events, req.wants_usage(), tokenizer)
        return sse(chunks)
    answer = await collect(engine, prepared, state.request_timeout_s, request.is_disconnected)
    message, is_call = assistant_message(answer.text, prepared.tools)
    wants_logprobs = prepared.params.logprobs is not None
    return chat_response(
        rid=rid,
        model=model_name,
        message=message,
        finish_reason="tool_calls" if is_call else answer.finish_reason,
        prompt_tokens=len(prepared.prompt_ids),
        completion_tokens=answer.tokens,
        logprobs=chat_logprobs(tokenizer, answer.logprobs) if wants_logprobs else None,
    )


@v1.post("/completions")
async def complete(req: CompletionRequest, request: Request, state: State) -> Any:
    check_model(state, req.model)
    engine, tokenizer, model_name = state.engine, state.engine.tokenizer, state.model_name
    prepared = await asyncio.to_thread(
        prepare_completion,
        req,
        tokenizer=tokenizer,
        grammar=state.grammar,
        max_seq_len=engine.max_seq_len,
    )
    rid = new_id("cmpl")
    if req.stream:
        events = engine_events(engine, prepared, state.request_timeout_s)
        usage = req.wants_usage()
        return sse(completion_stream(rid, model_name, prepared, events, usage, tokenizer))
    answer = await collect(engine, prepared, state.request_timeout_s, request.is_disconnected)
    wants_logprobs = prepared.params.logprobs is not None
    return completion_response(
        rid=rid,
        model=model_name,
        text=answer.text,
        finish_reason=answer.finish_reason,
        prompt_tokens=len(prepared.prompt_ids),
        completion_tokens=answer.tokens,
        logprobs=completion_logprobs(tokenizer, answer.logprobs) if wants_logprobs else None,
    )


router.include_router(v1)
