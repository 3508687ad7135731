"""What the routes depend on: the server's state (one per app, on `app.state`), and the API-key
check, as FastAPI dependencies (`State`, `authorize`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from inference.engine.engine import Engine
from inference.errors import UnauthorizedError
from inference.serve.metrics import MetricsExporter
from inference.structured.constraints import GrammarCompiler


@dataclass(frozen=True, slots=True)
class ServerState:
    """One app's engine and settings, and what it builds once for every request."""

    engine: Engine
    model_name: str
    api_key: str | None  # None: no key asked for
    request_timeout_s: float
    grammar: GrammarCompiler
    exporter: MetricsExporter
    started_s: float  # time.time() when the app was made; /v1/models reports it


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


State = Annotated[ServerState, Depends(server_state)]


async def authorize(request: Request, state: State) -> None:
    """Refuse a /v1 call without `Authorization: Bearer <key>` when a key is configured."""
    if state.api_key is None:
        return
    given = request.headers.get("authorization", "")
    if not secrets.compare_digest(given.encode(), f"Bearer {state.api_key}".encode()):
        raise UnauthorizedError("missing or wrong API key")
