"""The OpenAI-compatible HTTP server: chat and text completions (streamed or not), models,
health and Prometheus metrics, over one `Engine`.

Binds to localhost unless told otherwise; with an API key configured every /v1 call needs
`Authorization: Bearer <key>`. A full queue answers 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from inference.chat import Prepared, assistant_message, prepare_chat, sampling_params
from inference.constraints import GrammarCompiler
from inference.engine import Engine
from inference.errors import (
    InferenceError,
    OverloadedError,
    RequestError,
    RequestTimeoutError,
    UnauthorizedError,
    UnknownModelError,
)
from inference.metrics import MetricsExporter
from inference.protocol import (
    ChatRequest,
    CompletionRequest,
    chat_chunk,
    chat_response,
    completion_response,
    error_body,
    new_id,
    usage_chunk,
)
from inference.sequence import Event, Sequence


def create_app(
    engine: Engine,
    *,
    model_name: str,
    api_key: str | None = None,
    request_timeout_s: float = 300.0,
) -> FastAPI:
    tokenizer = engine.tokenizer
    grammar = GrammarCompiler(tokenizer.hf, tokenizer.eos_ids, engine.loaded.args.vocab_size)
    started = time.time()
    exporter = MetricsExporter(engine.stats)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        engine.start()
        yield
        engine.stop()

    app = FastAPI(title="schedsight LLM server", lifespan=lifespan)

    async def authorize(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise UnauthorizedError("missing or wrong API key")

    def check_model(name: str) -> None:
        if name != model_name:
            raise UnknownModelError(name)

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_r: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg", exc))
        return JSONResponse(error_body(message, kind="invalid_request_error", param=param), 400)

    @app.exception_handler(RequestError)
    async def _bad_request(_r: Request, exc: RequestError) -> JSONResponse:
        body = error_body(str(exc), kind="invalid_request_error", param=exc.param, code=exc.code)
        return JSONResponse(body, 400)

    @app.exception_handler(OverloadedError)
    async def _overloaded(_r: Request, exc: OverloadedError) -> JSONResponse:
        body = error_body(str(exc), kind="rate_limit_error", code="queue_full")
        return JSONResponse(body, 429, headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(RequestTimeoutError)
    async def _timeout(_r: Request, exc: RequestTimeoutError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), kind="timeout_error", code="timeout"), 504)

    @app.exception_handler(UnknownModelError)
    async def _unknown(_r: Request, exc: UnknownModelError) -> JSONResponse:
        message = f"the model {exc.name!r} does not exist: this server runs {model_name!r}"
        body = error_body(
            message, kind="invalid_request_error", param="model", code="model_not_found"
        )
        return JSONResponse(body, 404)

    @app.exception_handler(UnauthorizedError)
    async def _denied(_r: Request, _exc: UnauthorizedError) -> JSONResponse:
        body = error_body(
            "missing or wrong API key: send Authorization: Bearer <key>",
            kind="invalid_request_error",
            code="invalid_api_key",
        )
        return JSONResponse(body, 401)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": model_name,
            "weights": engine.weights,
            # Draft widths verified exact at start-up (empty: no speculation on this build).
            "speculation_widths": sorted(engine.widths.widths),
            # Decode steps through the compiled C++ blocks (inference/fused.py).
            "fused_decode": engine.fused_decode,
            "queue_depth": engine.queue_depth,
        }

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = exporter.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models() -> dict[str, Any]:
        card = {"id": model_name, "object": "model", "created": int(started), "owned_by": "local"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)])
    async def chat(req: ChatRequest) -> Any:
        check_model(req.model)
        prepared = prepare_chat(
            req,
            tokenizer=tokenizer,
            template=engine.loaded.chat_template,
            grammar=grammar,
            max_seq_len=engine.max_seq_len,
        )
        rid = new_id("chatcmpl")
        if req.stream:
            events = _events(engine, prepared, request_timeout_s)
            return _sse(_chat_stream(rid, model_name, prepared, events, req.wants_usage()))
        text, reason, n_tokens = await _collect(engine, prepared, request_timeout_s)
        message, is_call = assistant_message(text, prepared.tools)
        return chat_response(
            rid=rid,
            model=model_name,
            message=message,
            finish_reason="tool_calls" if is_call else reason,
            prompt_tokens=len(prepared.prompt_ids),
            completion_tokens=n_tokens,
        )

    @app.post("/v1/completions", dependencies=[Depends(authorize)])
    async def complete(req: CompletionRequest) -> Any:
        check_model(req.model)
        if not isinstance(req.prompt, str):
            if len(req.prompt) != 1:
                raise RequestError("send one prompt per request", param="prompt")
            req.prompt = req.prompt[0]
        prompt_ids = tokenizer.encode(req.prompt)
        params = sampling_params(req, len(prompt_ids), engine.max_seq_len)
        prepared = Prepared(prompt_ids, params, None, None)
        rid = new_id("cmpl")
        if req.stream:
            events = _events(engine, prepared, request_timeout_s)
            return _sse(_completion_stream(rid, model_name, prepared, events, req.wants_usage()))
        text, reason, n_tokens = await _collect(engine, prepared, request_timeout_s)
        return completion_response(
            rid=rid,
            model=model_name,
            text=text,
            finish_reason=reason,
            prompt_tokens=len(prompt_ids),
            completion_tokens=n_tokens,
        )

    return app


async def _events(
    engine: Engine, prepared: Prepared, timeout_s: float, *, live: bool = True
) -> AsyncIterator[Event]:
    """Submit to the engine and yield its events; cancel the sequence if we stop listening.

    `live=False` (a caller that only wants the whole answer): the engine's thread keeps the
    events and hands them over at the end, one wake-up of this loop per request instead of
    one per token, each of which takes a core from the model's threads on a small machine.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue()
    kept: list[Event] = []

    def hand_over() -> None:
        for event in kept:
            queue.put_nowait(event)

    def emit(event: Event) -> None:
        if live:
            loop.call_soon_threadsafe(queue.put_nowait, event)
            return
        kept.append(event)  # only the engine's thread appends, and the last one comes last
        if event.finish_reason is not None:
            loop.call_soon_threadsafe(hand_over)

    seq: Sequence = engine.submit(prepared.prompt_ids, prepared.params, emit, prepared.constraint)
    deadline = loop.time() + timeout_s
    late = f"the request ran past the server's limit of {timeout_s:g} s"
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RequestTimeoutError(late)
            try:
                event = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                raise RequestTimeoutError(late) from None
            ready = [event]
            while not queue.empty() and ready[-1].finish_reason is None:
                ready.append(queue.get_nowait())
            for merged in coalesce(ready):
                yield merged
                if merged.finish_reason is not None:
                    return
    finally:
        if seq.status.value != "finished":
            engine.cancel(seq)


def coalesce(events: list[Event]) -> list[Event]:
    """Events that arrived together as few as possible: consecutive text joined, so that one
    engine step's tokens (a verified speculative draft) go out as one SSE chunk, not one
    wake-up and one chunk each. An error event stays apart, after the text before it."""
    out: list[Event] = []
    for event in events:
        last = out[-1] if out else None
        if last is None or last.finish_reason is not None or last.error or event.error:
            out.append(event)
            continue
        out[-1] = Event(
            text=last.text + event.text,
            token_ids=last.token_ids + event.token_ids,
            finish_reason=event.finish_reason,
        )
    return out


class _Tally:
    """A request's events as its answer reads them: an engine error raised, tokens counted
    (every token the engine generated, for `usage`)."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.events = events
        self.tokens = 0

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for event in self.events:
            if event.error:
                raise InferenceError(event.error)
            self.tokens += len(event.token_ids)
            yield event


async def _collect(engine: Engine, prepared: Prepared, timeout_s: float) -> tuple[str, str, int]:
    parts: list[str] = []
    reason = "stop"
    tally = _Tally(_events(engine, prepared, timeout_s, live=False))
    async for event in tally:
        parts.append(event.text)
        if event.finish_reason is not None:
            reason = event.finish_reason
    return "".join(parts), reason, tally.tokens


def _sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\n\n"
        except InferenceError as exc:
            kind = "timeout_error" if isinstance(exc, RequestTimeoutError) else "server_error"
            yield f"data: {json.dumps(error_body(str(exc), kind=kind))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


async def _chat_stream(
    rid: str, model: str, prepared: Prepared, events: AsyncIterator[Event], include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    yield chat_chunk(rid=rid, model=model, delta={"role": "assistant", "content": ""})
    held: list[str] = []  # with tools the whole answer decides: text or a tool call
    tally = _Tally(events)
    async for event in tally:
        if prepared.tools:
            held.append(event.text)
        elif event.text:
            yield chat_chunk(rid=rid, model=model, delta={"content": event.text})
        if event.finish_reason is not None:
            reason = event.finish_reason
            if prepared.tools:
                message, is_call = assistant_message("".join(held), prepared.tools)
                delta = {k: v for k, v in message.items() if k != "role"}
                if is_call:
                    for i, call in enumerate(delta["tool_calls"]):
                        call["index"] = i
                    reason = "tool_calls"
                yield chat_chunk(rid=rid, model=model, delta=delta)
            yield chat_chunk(rid=rid, model=model, delta={}, finish_reason=reason)
    if include_usage:
        yield usage_chunk(
            rid, model, "chat.completion.chunk", len(prepared.prompt_ids), tally.tokens
        )


async def _completion_stream(
    rid: str, model: str, prepared: Prepared, events: AsyncIterator[Event], include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    tally = _Tally(events)
    async for event in tally:
        yield completion_response(
            rid=rid, model=model, text=event.text, finish_reason=event.finish_reason, chunk=True
        )
    if include_usage:
        yield usage_chunk(rid, model, "text_completion", len(prepared.prompt_ids), tally.tokens)
