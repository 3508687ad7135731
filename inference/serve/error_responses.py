"""Every error as an OpenAI-style JSON body with its HTTP status: a bad body or request 400,
a wrong key 401, an unknown model 404, a full queue 429 with Retry-After, a timeout 504, a
client gone 499, and any other failure, expected or not, 500 (never plain text).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from inference.errors import (
    ClientGoneError,
    InferenceError,
    OverloadedError,
    RequestError,
    RequestTimeoutError,
    UnauthorizedError,
    UnknownModelError,
)
from inference.serve.protocol import error_body


async def bad_body(_r: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    said = str(first.get("msg", exc)).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        said = "this server does not support this field: leave it out"
    message = f"{param}: {said}" if param else said
    return JSONResponse(error_body(message, kind="invalid_request_error", param=param), 400)


async def bad_request(_r: Request, exc: RequestError) -> JSONResponse:
    body = error_body(str(exc), kind="invalid_request_error", param=exc.param, code=exc.code)
    return JSONResponse(body, 400)


async def overloaded(_r: Request, exc: OverloadedError) -> JSONResponse:
    body = error_body(str(exc), kind="rate_limit_error", code="queue_full")
    return JSONResponse(body, 429, headers={"Retry-After": str(exc.retry_after_s)})


async def timed_out(_r: Request, exc: RequestTimeoutError) -> JSONResponse:
    return JSONResponse(error_body(str(exc), kind="timeout_error", code="timeout"), 504)


async def unknown_model(request: Request, exc: UnknownModelError) -> JSONResponse:
    served = request.app.state.server.model_name
    message = f"the model {exc.name!r} does not exist: this server runs {served!r}"
    body = error_body(message, kind="invalid_request_error", param="model", code="model_not_found")
    return JSONResponse(body, 404)


async def client_gone(_r: Request, exc: ClientGoneError) -> JSONResponse:
    # Nobody reads it; 499 (nginx's "client closed request") marks it in access logs.
    return JSONResponse(error_body(str(exc), kind="client_closed_request"), 499)


async def failed(_r: Request, exc: InferenceError) -> JSONResponse:
    return JSONResponse(error_body(str(exc), kind="server_error"), 500)


async def unexpected(_r: Request, exc: Exception) -> JSONResponse:
    # Logged with its traceback by Starlette; the client gets JSON, never plain text.
    message = f"the server failed on this request ({type(exc).__name__}): see its log"
    return JSONResponse(error_body(message, kind="server_error"), 500)


async def denied(_r: Request, _exc: UnauthorizedError) -> JSONResponse:
    body = error_body(
        "missing or wrong API key: send Authorization: Bearer <key>",
        kind="invalid_request_error",
        code="invalid_api_key",
    )
    return JSONResponse(body, 401)


def add_error_handlers(app: FastAPI) -> None:
    """Answer each kind of error as above (the most specific class's handler wins)."""
    handlers = {
        RequestValidationError: bad_body,
        RequestError: bad_request,
        OverloadedError: overloaded,
        RequestTimeoutError: timed_out,
        UnknownModelError: unknown_model,
        ClientGoneError: client_gone,
        InferenceError: failed,
        Exception: unexpected,
        UnauthorizedError: denied,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)  # type: ignore[arg-type]
