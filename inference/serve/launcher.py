"""Start a real server on a free localhost port in a background thread.

Used by tests, benchmarks and the agent (which starts the local server on demand).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.loading.loader import default_model_path, load_model
from inference.serve.app import create_app
from inference.serve.limits import DEFAULT_MAX_BODY_BYTES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    config: EngineConfig | None = None,
    *,
    api_key: str | None = None,
    timeout_s: float = 120.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Iterator[tuple[str, Engine]]:
    """Yield (base URL of /v1, engine) for a server on the embedded model."""
    loaded = load_model(default_model_path())
    engine = Engine(loaded, config or EngineConfig(max_seq_len=2048))
    app = create_app(
        engine,
        model_name=loaded.name,
        api_key=api_key,
        request_timeout_s=timeout_s,
        max_body_bytes=max_body_bytes,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield f"{base}/v1", engine
    finally:
        server.should_exit = True
        thread.join(30)
