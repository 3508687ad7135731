"""The /v1 routes. Each is a plain function (FastAPI runs it on its thread pool: answers read
Slurm and the database, and a what-if replays a history)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from api.auth import Asker
from api.schemas import ErrorBody, Health, JobExplanation, JobStart, SiteBody, WhatIf, WhatIfAnswer
from api.state import ApiState
from api.whatif import site_whatif, stored_site
from hpc.predict.live_answer import LiveAnswer

router = APIRouter()
JobId = Annotated[int, Path(ge=1, le=2**53, description="a pending job of the live cluster")]
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 502, 503)
}


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def _answer(request: Request, asker: Asker, job_id: int) -> LiveAnswer:
    answer = _state(request).live.answer(job_id)
    if not asker.may_see(answer.job.user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"job {job_id} is not yours")
    return answer


@router.get("/health", response_model=Health)
def health() -> Health:
    return Health(status="ok")


@router.get("/metrics", response_class=Response, responses=_ERRORS)
def metrics(request: Request, _asker: Asker) -> Response:
    """Prometheus histograms of the stored predictions: predicted waits per partition and
    absolute start errors (same token and identity rule as /v1)."""
    body, content_type = _state(request).metrics.render()
    return Response(body, media_type=content_type)


@router.get("/v1/jobs/{job_id}/start", response_model=JobStart, responses=_ERRORS)
def job_start(request: Request, asker: Asker, job_id: JobId) -> JobStart:
    """When the pending job starts: the model, the twin's forward plan and Slurm's plan."""
    return JobStart.model_validate(_answer(request, asker, job_id).as_dict())


@router.get("/v1/jobs/{job_id}/explain", response_model=JobExplanation, responses=_ERRORS)
def job_explain(request: Request, asker: Asker, job_id: JobId) -> JobExplanation:
    """Why the job waits (the model's SHAP drivers) and the other ways to ask, best first."""
    return JobExplanation.model_validate(_answer(request, asker, job_id).as_dict())


@router.post("/v1/whatif", response_model=WhatIfAnswer, responses=_ERRORS)
def whatif(request: Request, _asker: Asker, question: WhatIf) -> WhatIfAnswer:
    """The site's history replayed as it is and with the changes (nothing is stored)."""
    return site_whatif(_state(request).store, question)


@router.get("/v1/site", response_model=SiteBody, responses=_ERRORS)
def site(
    request: Request,
    _asker: Asker,
    name: Annotated[str | None, Query(max_length=128, description="default: newest")] = None,
    version: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
) -> SiteBody:
    """The stored site (`schedsight site import`)."""
    return stored_site(_state(request).store, name, version)
