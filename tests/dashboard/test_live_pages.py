"""What-if, Ask, Explain, My jobs and Accuracy when the dashboard's source is live Slurm: on
the history `slurm import` stored from the cluster, its stored site, its live queue (a
recorded snapshot here; the real dev cluster in test_browser.py) and the persisted model."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from db.predictions import record_starts, save_live_predictions
from db.session import sqlite_url, transaction
from db.sites import save_site
from db.store import Store
from hpc.predict.accuracy import LivePrediction
from hpc.slurm.state import ClusterState, LiveJob, Node, Partition
from tests.dashboard.conftest import page
from tests.lab_site import CPU, GPU, lab_site, store_imported_history

CLUSTER = "dev"


class LiveCluster:
    """The lab site's nodes as Slurm shows them: bob's wide job and alice's GPU job wait."""

    name = "fake"

    def cluster_state(self) -> ClusterState:
        nodes = tuple(
            Node(n, "mixed" if n == "c0" else "idle", cpus=32, alloc_cpus=32 if n == "c0" else 0,
                 mem_mb=0, alloc_mem_mb=0, gpus=4 if n in GPU else 0,
                 partitions=("gpu",) if n in GPU else ("batch",))
            for n in CPU + GPU
        )  # fmt: skip
        jobs = (
            LiveJob(1, "sim", "alice", "physics", "batch", "RUNNING", "None", 100, start_s=200,
                    cpus=32, time_limit_s=7200),
            LiveJob(2, "wide", "bob", "physics", "batch", "PENDING", "Resources", 300,
                    cpus=192, node_count=6, time_limit_s=3600),
            LiveJob(3, "train", "alice", "physics", "gpu", "PENDING", "Priority", 400, cpus=8,
                    time_limit_s=1800),
        )  # fmt: skip
        partitions = (Partition("batch", CPU, 172_800, default=True), Partition("gpu", GPU, 86_400))
        return ClusterState(CLUSTER, "22.05.8", "fake", nodes, partitions, jobs)

    def history(self, *, start_s: int) -> list[object]:
        return []


def _plain(markdown: str) -> str:
    """Escaped markdown as it reads on the page."""
    return markdown.replace("\\", "")


def _ok(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture
def live(dash_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The dashboard on live Slurm (the recorded cluster above), with nothing stored yet."""
    from dashboard import context

    monkeypatch.setattr(context, "slurm_backend", LiveCluster)
    dash_env.mkdir(parents=True, exist_ok=True)
    return dash_env


def _imported(data: Path, *, site: bool = True) -> None:
    """What `slurm import` and `site import` store from the cluster: 600 jobs and the site."""
    store = Store.open(sqlite_url(data / "schedsight.db"))
    store_imported_history(store, CLUSTER, name="slurm-dev")
    if site:
        with transaction(store.sessions) as session:
            save_site(session, dataclasses.replace(lab_site(), source=f"slurm:{CLUSTER}:cli"))
    store.engine.dispose()


def _live(name: str) -> Any:
    at = page(name)
    at.query_params["source"] = "slurm"
    return at


def test_live_pages_say_what_is_not_imported_yet(live: Path) -> None:
    whatif = _live("whatif").run()
    _ok(whatif)
    said = whatif.warning[0].value
    assert "schedsight slurm import" in said and "schedsight site import" in said
    ask = _live("ask").run()
    _ok(ask)
    assert "schedsight slurm import" in ask.warning[0].value
    explain = _live("explain").run(timeout=60)
    _ok(explain)
    assert explain.subheader[0].value.startswith("Job 2 (bob, batch, 192 cores) is pending")
    assert "No model's prediction" in explain.warning[0].value
    starts = explain.dataframe[0].value
    assert starts["estimate"].tolist() == ["forward plan of the queue", "Slurm's own plan"]


def test_whatif_on_live_slurm_replays_the_imported_history_on_the_stored_site(
    live: Path,
) -> None:
    _imported(live)
    at = _live("whatif").run()
    _ok(at)
    assert "Live Slurm" in at.caption[0].value
    assert at.selectbox(key="site_label").value == "lab@1"
    assert at.selectbox(key="site_workload").value == "workload:1"  # the imported history
    at.multiselect(key="site_policies").set_value(["fcfs:easy"])
    at.text_area[0].set_value("add 2 nodes to gpu")
    next(b for b in at.button if b.label == "Run what-if").click().run()
    _ok(at)
    partitions = at.dataframe[0].value
    assert partitions["partition"].tolist() == ["batch", "gpu"]
    assert at.query_params["workload"] == "workload:1" and at.query_params["site"] == "lab@1"


def test_ask_on_live_slurm_runs_the_agent_on_the_imported_history(live: Path) -> None:
    _imported(live, site=False)
    at = _live("ask").run()
    _ok(at)
    assert "imported history, workload 1 (slurm-dev), 600 jobs" in _plain(at.caption[0].value)
    assert at.text_area[0].value == "What if we lost 2 nodes for 6 hours?"
    at.checkbox[0].uncheck()  # rules only: no language model in this test
    next(b for b in at.button if b.label == "Ask").click().run()
    _ok(at)
    assert int(at.table[0].value["nodes (+ added, - removed)"].iloc[0]) == -2
    assert "Removing 2 nodes now, for 6 h" in at.code[0].value


def test_explain_on_live_slurm_answers_a_pending_job_with_the_persisted_model(
    live: Path,
) -> None:
    from dashboard import context

    _imported(live)
    at = _live("explain")
    at.query_params["job"] = "3"
    at.run(timeout=180)  # trains the model once and stores it (db.trained)
    _ok(at)
    assert "Start-time model: workload 1 (slurm-dev)" in _plain(at.caption[0].value)
    assert at.subheader[0].value.startswith("Job 3 (alice, gpu, 8 cores) is pending")
    assert _plain(at.markdown[0].value).startswith("**Most likely start: today ")
    starts = at.dataframe[0].value
    assert starts["estimate"].tolist()[:3] == [
        "schedsight model: median", "schedsight model: p10 (early)", "schedsight model: p90 (late)"
    ]  # fmt: skip
    assert starts["estimate"].tolist()[-1] == "Slurm's own plan"
    assert starts["from now"].iloc[0][-1] in "sn"  # "12 min", "45 s", "2 h 05 min"
    assert at.info[0].value.startswith("Predicted wait")
    assert len(at.get("image")) == 1
    assert not at.dataframe[1].value.empty and not at.dataframe[2].value.empty
    assert at.query_params["job"] == "3"
    with context.store().sessions() as session:  # the model is the persisted one
        from db.models import TrainedModel
        from db.predictions import live_records

        assert session.query(TrainedModel).count() == 1
        (kept,) = live_records(session)  # what it predicted, stored to be judged later
    assert (kept.prediction.job_id, kept.prediction.asked_by) == (3, "dashboard")
    assert kept.prediction.slurm_s is None and kept.actual_s is None
    at.run(timeout=60)  # a rerun shows the same answer, stored once
    with context.store().sessions() as session:
        assert len(live_records(session)) == 1
    at.query_params["job"] = "999"
    at.run(timeout=60)
    assert "Job 999 is not pending on dev" in at.warning[0].value


def test_my_jobs_says_so_without_a_trusted_header(
    live: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page("my_jobs").run()
    _ok(at)
    assert "SCHEDSIGHT_DASHBOARD_USER_HEADER" in _plain(at.warning[0].value)
    monkeypatch.setenv("SCHEDSIGHT_DASHBOARD_USER_HEADER", "REMOTE_USER")
    import streamlit as st

    st.cache_resource.clear()
    at = page("my_jobs").run()
    _ok(at)
    assert "carries no REMOTE_USER header" in _plain(at.warning[0].value)


def test_accuracy_page_explains_the_empty_state_then_shows_the_report(live: Path) -> None:
    at = page("accuracy").run()
    _ok(at)
    assert "No live start predictions" in at.info[0].value
    store = Store.open(sqlite_url(live / "schedsight.db"))
    now = 1_765_000_000
    prediction = LivePrediction(
        cluster=CLUSTER, job_id=2, partition="batch", asked_by="when", made_s=now,
        model="m", p50_s=now + 600, p10_s=now, p90_s=now + 1200, likely_from_s=now + 300,
        likely_to_s=now + 900, likely_chance=0.4, plan_s=now + 60, slurm_s=now + 7200,
    )  # fmt: skip
    with transaction(store.sessions) as session:
        save_live_predictions(session, [prediction])
    at.run()
    assert "none of their jobs has started yet" in at.info[0].value
    with transaction(store.sessions) as session:
        record_starts(session, cluster=CLUSTER, starts={2: now + 700})
    store.engine.dispose()
    at.run()
    _ok(at)
    assert at.selectbox[0].value == CLUSTER  # the only cluster
    calibration, errors, days = (d.value for d in at.dataframe)
    assert calibration["hit"].tolist() == ["100%"]
    assert errors["estimate"].tolist()[-1] == "Slurm's own estimate"
    assert errors["median error, same jobs"].tolist() == ["2 min", "11 min", "1 h 48 min"]
    assert len(days) == 1
