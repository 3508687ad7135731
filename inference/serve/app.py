"""The OpenAI-compatible HTTP server: chat and text completions (streamed or not), models,
health and Prometheus metrics, over one `Engine`.

Binds to localhost unless told otherwise; with an API key configured every /v1 call needs
`Authorization: Bearer <key>`. A full queue answers 429 with Retry-After, a body over the
limit 413, and any error, expected or not, an OpenAI-style JSON body. The routes are in
`routes`, what they depend on in `deps`, the error answers in `error_responses`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from inference.engine.engine import Engine
from inference.serve.deps import ServerState
from inference.serve.error_responses import add_error_handlers
from inference.serve.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from inference.serve.metrics import MetricsExporter
from inference.serve.routes import router
from inference.structured.constraints import GrammarCompiler


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
    state = ServerState(
        engine=engine,
        model_name=model_name,
        api_key=api_key,
        request_timeout_s=request_timeout_s,
        grammar=GrammarCompiler(tokenizer.hf, tokenizer.eos_ids, engine.loaded.args.vocab_size),
        exporter=MetricsExporter(engine),
        started_s=time.time(),
    )
    tokenizer.max_token_bytes  # computed now (0.1 s), not in the first request  # noqa: B018
    app = FastAPI(title="schedsight LLM server", lifespan=_serve_engine)
    app.state.server = state
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    add_error_handlers(app)
    app.include_router(router)
    return app


@asynccontextmanager
async def _serve_engine(app: FastAPI) -> AsyncIterator[None]:
    """The engine takes requests while the app runs."""
    engine = app.state.server.engine
    engine.start()
    yield
    engine.stop()
