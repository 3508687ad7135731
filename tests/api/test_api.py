"""The portal API over real HTTP (uvicorn on a free port, httpx), every answer checked against
the server's own OpenAPI document; who may ask what; and the rule for starting without a
token. Live answers come from a made-up queue over a predictor trained on a generated trace
(tests/api/test_live_cluster.py asks the dev Slurm cluster)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from api.auth import ApiAuth, check_exposure
from api.errors import InsecureBindError
from db.session import sqlite_url, transaction
from db.sites import save_site
from db.store import Store
from db.workloads import import_workload
from hpc.predict.history import history_of
from hpc.predict.live_answer import LiveAnswer, TrainedHistory, answer_live
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import TreeParams
from hpc.site.model import NodeType, PartitionSpec, Site
from hpc.slurm.state import ClusterState, LiveJob, Node, Partition
from hpc.workload.cleaning import clean, machine_for
from hpc.workload.loading import LoadedWorkload
from hpc.workload.lublin import LublinParams, generate
from tests.api.server import serve

TOKEN = "t" * 40
HOUR = 3600


class MadeUpQueue:
    """Live answers over a fixed queue: job 7 (bob) and 8 (carol) pending, 5 running."""

    def __init__(self, trained: TrainedHistory) -> None:
        history = trained.predictor.history
        self.now = history.epoch_s + int(history.jobs.submit_s[-1]) + 600
        self.trained = trained
        now = self.now
        nodes = tuple(
            Node(f"n{i}", "allocated", 16, 16, 64_000, 0, partitions=("batch",)) for i in range(4)
        )
        jobs = (
            LiveJob(5, "run", "alice", "a", "batch", "RUNNING", "None", now - HOUR,
                    start_s=now - HOUR, time_limit_s=3 * HOUR, cpus=64),
            LiveJob(7, "wait", "bob", "a", "batch", "PENDING", "Resources", now - 120,
                    time_limit_s=2 * HOUR, cpus=32, priority=10),
            LiveJob(8, "wait", "carol", "a", "batch", "PENDING", "Priority", now - 60,
                    time_limit_s=HOUR, cpus=8, priority=5),
        )  # fmt: skip
        parts = (Partition("batch", tuple(n.name for n in nodes), None, default=True),)
        self.state = ClusterState("made-up", "22.05", "cli", nodes, parts, jobs)

    def answer(self, job_id: int) -> LiveAnswer:
        return answer_live(self.state, job_id, [], self.now, trained=self.trained)


@pytest.fixture(scope="module")
def trained() -> TrainedHistory:
    trace = generate(600, seed=3, procs=64, params=LublinParams(interarrival_scale=0.5))
    machine = machine_for(trace)
    jobs, report = clean(trace, machine=machine)
    history = history_of(LoadedWorkload(trace, machine, jobs, report))
    predictor = Predictor.train(history, len(history), TreeParams(rounds=30))
    return TrainedHistory(predictor, {1: "batch"}, "generated history")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A stored two-partition site and 300 jobs imported from its (made-up) cluster."""
    path = tmp_path_factory.mktemp("api") / "api.db"
    store = Store.open(sqlite_url(path))
    site = Site(
        "made-up",
        {"c": NodeType("c", cores=32, mem_mb=0)},
        {f"n{i}": "c" for i in range(8)},
        (
            PartitionSpec("batch", tuple(f"n{i}" for i in range(8)), default=True),
            PartitionSpec("small", ("n0", "n1")),
        ),
        source="slurm:made-up:cli",
    )
    trace = dataclasses.replace(generate(300, seed=5, procs=256), source="slurm:made-up:cli")
    trace.header.keys["Partitions"] = "1=batch"
    _, report = clean(trace, machine=machine_for(trace))
    with transaction(store.sessions) as session:
        save_site(session, site)
        import_workload(session, trace=trace, name="made-up history", cleaning=report)
    yield store
    store.engine.dispose()


def _server(trained: TrainedHistory, store: Store, auth: ApiAuth) -> Iterator[str]:
    from api.app import create_app

    with serve(create_app(MadeUpQueue(trained), store, auth)) as url:
        yield url


@pytest.fixture(scope="module")
def url(trained: TrainedHistory, store: Store) -> Iterator[str]:
    """A server with a token and no trusted identity header: the token holder sees all."""
    yield from _server(trained, store, ApiAuth(TOKEN, None))


@pytest.fixture(scope="module")
def portal_url(trained: TrainedHistory, store: Store) -> Iterator[str]:
    """Behind a portal: the user from REMOTE_USER; root is an admin."""
    yield from _server(trained, store, ApiAuth(TOKEN, "REMOTE_USER", frozenset({"root"})))


@pytest.fixture(scope="module")
def schemas(url: str) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(f"{url}/openapi.json").json()
    return doc


def conforms(schemas: dict[str, Any], name: str, body: object) -> None:
    """`body` is what the OpenAPI document says component `name` is."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": schemas["components"]}
    Draft202012Validator(schema).validate(body)


def get(url: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {TOKEN}", **headers})


def test_the_document_names_every_route_and_the_bearer_scheme(schemas: dict[str, Any]) -> None:
    paths = schemas["paths"]
    for path in ("/v1/jobs/{job_id}/start", "/v1/jobs/{job_id}/explain", "/v1/site"):
        assert "get" in paths[path]
    assert "post" in paths["/v1/whatif"]
    assert schemas["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    methods = {m for item in paths.values() for m in item}
    assert methods <= {"get", "post"}  # nothing deletes or changes a job


def test_a_pending_job_start_conforms(url: str, schemas: dict[str, Any]) -> None:
    reply = get(url, "/v1/jobs/7/start")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    conforms(schemas, "JobStart", body)
    assert body["job_id"] == 7 and body["user"] == "bob"
    predicted = body["predicted"]
    assert body["asked_s"] <= predicted["p10_s"] <= predicted["p50_s"] <= predicted["p90_s"]
    assert body["plan"]["method"] == "one-pool plan of batch"
    assert body["model"] == "generated history"


def test_the_explanation_conforms(url: str, schemas: dict[str, Any]) -> None:
    reply = get(url, "/v1/jobs/8/explain")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    conforms(schemas, "JobExplanation", body)
    assert body["why"]["sentence"].startswith("Predicted wait")
    assert body["why"]["drivers"] and body["alternatives"]


def test_without_the_token_nothing_is_answered(url: str, schemas: dict[str, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer " + "x" * 40}, {"Authorization": TOKEN}):
        reply = httpx.get(f"{url}/v1/jobs/7/start", headers=headers)
        assert reply.status_code == 401
        conforms(schemas, "ErrorBody", reply.json())


def test_not_pending_and_unknown_jobs_say_so(url: str, schemas: dict[str, Any]) -> None:
    running, unknown = get(url, "/v1/jobs/5/start"), get(url, "/v1/jobs/99/start")
    assert running.status_code == 409 and "running, not pending" in running.json()["detail"]
    assert unknown.status_code == 404 and "not in the queue" in unknown.json()["detail"]
    conforms(schemas, "ErrorBody", running.json())
    assert get(url, "/v1/jobs/0/start").status_code == 422


def test_behind_a_portal_users_see_their_own_jobs_only(portal_url: str) -> None:
    assert get(portal_url, "/v1/jobs/7/start", REMOTE_USER="bob").status_code == 200
    other = get(portal_url, "/v1/jobs/7/start", REMOTE_USER="carol")
    assert other.status_code == 403 and other.json() == {"detail": "job 7 is not yours"}
    assert get(portal_url, "/v1/jobs/7/explain", REMOTE_USER="carol").status_code == 403
    assert get(portal_url, "/v1/jobs/7/start", REMOTE_USER="root").status_code == 200
    anonymous = get(portal_url, "/v1/jobs/7/start")
    assert anonymous.status_code == 401 and "REMOTE_USER" in anonymous.json()["detail"]


def test_the_stored_site_conforms(url: str, schemas: dict[str, Any]) -> None:
    reply = get(url, "/v1/site")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    conforms(schemas, "SiteBody", body)
    assert [p["name"] for p in body["partitions"]] == ["batch", "small"]
    assert body["node_types"] == [
        {"name": "c", "count": 8, "cores": 32, "mem_mb": 0, "gpus": 0, "gpu_type": None}
    ]
    assert get(url, "/v1/site?name=nowhere").status_code == 404


def test_a_whatif_answers_per_partition_before_and_after(url: str, schemas: dict[str, Any]) -> None:
    question = {"site": "made-up", "changes": ["add 8 nodes to batch"], "policy": "fcfs:easy"}
    reply = httpx.post(
        f"{url}/v1/whatif", json=question, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    conforms(schemas, "WhatIfAnswer", body)
    before, after = body["before"][0], body["after"][0]
    assert before["partition"] == after["partition"] == "batch"
    assert after["mean_wait_s"] <= before["mean_wait_s"]  # twice the nodes: no longer waits
    assert body["changes"] == ["add 8 nodes to batch"]


def test_a_bad_whatif_is_a_422_with_the_reason(url: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(f"{url}/v1/whatif", json={"site": "made-up", "changes": ["paint it"]},
                     headers=auth)  # fmt: skip
    assert bad.status_code == 422 and "cannot read site change" in bad.json()["detail"]
    missing = httpx.post(f"{url}/v1/whatif", json={"site": "gone"}, headers=auth)
    assert missing.status_code == 404


def test_no_token_means_loopback_and_an_explicit_flag() -> None:
    open_auth = ApiAuth(None, None)
    check_exposure("127.0.0.1", open_auth, no_auth=True)
    check_exposure("::1", open_auth, no_auth=True)
    with pytest.raises(InsecureBindError, match="no API token"):
        check_exposure("127.0.0.1", open_auth, no_auth=False)
    with pytest.raises(InsecureBindError, match="loopback address only"):
        check_exposure("0.0.0.0", open_auth, no_auth=True)
    check_exposure("0.0.0.0", ApiAuth(TOKEN, None), no_auth=False)
    with pytest.raises(InsecureBindError, match="drop one of them"):
        check_exposure("127.0.0.1", ApiAuth(TOKEN, None), no_auth=True)


def test_serve_api_refuses_to_start_open_on_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from schedsight.cli import main

    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SCHEDSIGHT_API_TOKEN", raising=False)
    assert main(["serve-api", "--host", "0.0.0.0", "--no-auth"]) == 2
    assert "loopback address only" in capsys.readouterr().err
    monkeypatch.setenv("SCHEDSIGHT_API_TOKEN", "short")
    assert main(["serve-api"]) == 2
    assert "at least 32 characters" in capsys.readouterr().err


def test_metrics_are_histograms_of_stored_predictions_behind_the_token(
    url: str, store: Store
) -> None:
    from db.predictions import record_starts, save_live_predictions
    from hpc.predict.accuracy import LivePrediction

    made = LivePrediction("made-up", 9, "batch", "api", 1000, "m", p50_s=1000 + 400, plan_s=2000)
    with transaction(store.sessions) as session:
        save_live_predictions(session, [made])
        record_starts(session, cluster="made-up", starts={9: 1000 + 500})
    assert httpx.get(f"{url}/metrics").status_code == 401
    answer = get(url, "/metrics")
    assert answer.status_code == 200
    text = answer.text
    assert 'schedsight_prediction_wait_seconds_bucket{le="600.0",partition="batch"} 1.0' in text
    assert 'schedsight_prediction_wait_seconds_bucket{le="300.0",partition="batch"} 0.0' in text
    assert 'schedsight_prediction_abs_error_seconds_sum{estimate="model"} 100.0' in text
    assert 'schedsight_prediction_abs_error_seconds_sum{estimate="plan"} 500.0' in text
    assert 'schedsight_prediction_abs_error_seconds_count{estimate="slurm"} 0.0' in text
