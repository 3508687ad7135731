"""The portal API app: routes in `api.routes`, who may ask in `api.auth`.

Errors answer JSON `{"detail": ...}`: 401 (token or identity), 403 (someone else's job), 404
(no such job, site or workload), 409 (the job is not pending), 422 (a bad question), 503
(Slurm did not answer), 502 (Slurm answered with an error). `/metrics` (Prometheus) asks for
the same token and identity as /v1.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from api.auth import ApiAuth
from api.metrics import PredictionMetrics
from api.routes import router
from api.state import ApiState, LiveAnswers
from db.errors import NotFoundError
from db.store import Store
from hpc.errors import HpcError
from hpc.slurm.errors import (
    ControllerUnreachableError,
    JobNotFoundError,
    JobNotPendingError,
    SlurmError,
)


def create_app(live: LiveAnswers, store: Store, auth: ApiAuth) -> FastAPI:
    app = FastAPI(
        title="schedsight portal API",
        version="1",
        summary="When will a pending job start, and why; site what-ifs. Read-only.",
    )
    app.state.api = ApiState(live, store, auth, PredictionMetrics(store))
    _add_error_handlers(app)
    app.include_router(router)
    return app


_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFoundError, status.HTTP_404_NOT_FOUND),
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (JobNotPendingError, status.HTTP_409_CONFLICT),
    (ControllerUnreachableError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (SlurmError, status.HTTP_502_BAD_GATEWAY),
    (HpcError, status.HTTP_422_UNPROCESSABLE_CONTENT),
)


def _add_error_handlers(app: FastAPI) -> None:
    async def answer(_request: Request, exc: Exception) -> JSONResponse:
        code = next(code for kind, code in _STATUS if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=code)

    for kind in (NotFoundError, HpcError):  # the others are HpcErrors
        app.add_exception_handler(kind, answer)
