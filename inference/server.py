"""The OpenAI-compatible HTTP server: chat and text completions (streamed or not), models,
health and Prometheus metrics, over one `Engine`.

Binds to localhost unless told otherwise; with an API key configured every /v1 call needs
`Authorization: Bearer <key>`. A full queue answers 429 with Retry-After, a body over the
limit 413, and any error, expected or not, an OpenAI-style JSON body.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from inference.chat import assistant_message, prepare_chat, prepare_completion
from inference.constraints import GrammarCompiler
from inference.engine import Engine
from inference.errors import (
    ClientGoneError,
    InferenceError,
    OverloadedError,
    RequestError,
    RequestTimeoutError,
    UnauthorizedError,
    UnknownModelError,
)
from inference.events import coalesce, collect, engine_events
from inference.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from inference.logprobs import chat_logprobs, completion_logprobs
from inference.metrics import MetricsExporter
from inference.protocol import (
    ChatRequest,
    CompletionRequest,
    chat_response,
    completion_response,
    error_body,
    new_id,
)
from inference.streams import chat_stream, completion_stream, sse

__all__ = ["coalesce", "create_app"]

log = logging.getLogger(__name__)


def create_app(
    engine: Engine,
    *,
    model_name: str,
    api_key: str | None = None,
    request_timeout_s: float = 300.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The app over `engine`; request bodies over `max_body_bytes` are refused (413)."""
    tokenizer = engine.tokenizer
    grammar = GrammarCompiler(tokenizer.hf, tokenizer.eos_ids, engine.loaded.args.vocab_size)
    started = time.time()
    exporter = MetricsExporter(engine)
    tokenizer.max_token_bytes  # computed now (0.1 s), not in the first request  # noqa: B018

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        engine.start()
        yield
        engine.stop()

    app = FastAPI(title="schedsight LLM server", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

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
        said = str(first.get("msg", exc)).removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            said = "this server does not support this field: leave it out"
        message = f"{param}: {said}" if param else said
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

    @app.exception_handler(ClientGoneError)
    async def _gone(_r: Request, exc: ClientGoneError) -> JSONResponse:
        # Nobody reads it; 499 (nginx's "client closed request") marks it in access logs.
        return JSONResponse(error_body(str(exc), kind="client_closed_request"), 499)

    @app.exception_handler(InferenceError)
    async def _failed(_r: Request, exc: InferenceError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), kind="server_error"), 500)

    @app.exception_handler(Exception)
    async def _unexpected(_r: Request, exc: Exception) -> JSONResponse:
        # Logged with its traceback by Starlette; the client gets JSON, never plain text.
        message = f"the server failed on this request ({type(exc).__name__}): see its log"
        return JSONResponse(error_body(message, kind="server_error"), 500)

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
    async def chat(req: ChatRequest, request: Request) -> Any:
        check_model(req.model)
        # Rendering, tokenizing and compiling a grammar take a while for a long request:
        # in a thread, so /health and the other clients' streams go on meanwhile.
        prepared = await asyncio.to_thread(
            prepare_chat,
            req,
            tokenizer=tokenizer,
            template=engine.loaded.chat_template,
            grammar=grammar,
            max_seq_len=engine.max_seq_len,
        )
        rid = new_id("chatcmpl")
        if req.stream:
            events = engine_events(engine, prepared, request_timeout_s)
            chunks = chat_stream(rid, model_name, prepared, events, req.wants_usage(), tokenizer)
            return sse(chunks)
        answer = await collect(engine, prepared, request_timeout_s, request.is_disconnected)
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

    @app.post("/v1/completions", dependencies=[Depends(authorize)])
    async def complete(req: CompletionRequest, request: Request) -> Any:
        check_model(req.model)
        prepared = await asyncio.to_thread(
            prepare_completion,
            req,
            tokenizer=tokenizer,
            grammar=grammar,
            max_seq_len=engine.max_seq_len,
        )
        rid = new_id("cmpl")
        if req.stream:
            events = engine_events(engine, prepared, request_timeout_s)
            usage = req.wants_usage()
            return sse(completion_stream(rid, model_name, prepared, events, usage, tokenizer))
        answer = await collect(engine, prepared, request_timeout_s, request.is_disconnected)
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

    return app
