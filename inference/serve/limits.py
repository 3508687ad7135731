"""The request body limit: an ASGI middleware that reads a body up to the limit and answers
413 beyond it, before the app parses a byte of it (a 50 MB prompt once stalled the server
for a minute and grew it by 3 GB that it never gave back).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.serve.protocol import error_body

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # a context's worth of text many times over


class BodyLimit:
    """Refuses bodies over `max_bytes`: at once when Content-Length says so, else as soon as
    the chunks read so far pass it. The app gets the body as one message."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("the body limit must be at least 1 byte")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left while sending: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message | None = {"type": "http.request", "body": b"".join(chunks)}
        chunks.clear()

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()  # after the body: the client's disconnect
            message, body = body, None
            return message

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        message = (
            f"the request body is larger than this server's limit of {limit} bytes "
            f"({limit / 2**20:.3g} MiB): send a shorter prompt"
        )
        body = error_body(message, kind="invalid_request_error", code="request_too_large")
        # Connection: close, so that the body's unread rest is never parsed as a request.
        response = JSONResponse(body, 413, headers={"Connection": "close"})
        await response(scope, receive, send)
