"""Every page in Streamlit's headless AppTest, with its main interactions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from db.audit import list_audit
from db.decisions import get_decision, record_decision
from db.session import sqlite_url, transaction
from hpc.slurm.state import ClusterState, LiveJob, Node, Partition
from tests.dashboard.conftest import ADMIN_TOKEN, page
from tests.lab_site import store_lab_site


def _ok(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_overview_replays_the_simulated_cluster(dash_env: Path) -> None:
    at = page("overview").run()
    _ok(at)
    assert at.title[0].value == "Cluster and queue"
    pending = at.dataframe[0].value
    assert {"job", "reason", "why"} <= set(pending.columns)
    assert at.dataframe[0].value["why"].str.startswith("waiting").all()
    at.slider[0].set_value(0).run()
    _ok(at)
    assert at.query_params["hour"] == "0"


class FakeBackend:
    name = "fake"

    def cluster_state(self) -> ClusterState:
        node = Node("n1", "mixed", cpus=16, alloc_cpus=8, mem_mb=64000, alloc_mem_mb=0,
                    partitions=("batch",))  # fmt: skip
        jobs = (
            LiveJob(1, "a", "alice", "physics", "batch", "RUNNING", "None", 0, start_s=10,
                    cpus=8),
            LiveJob(2, "b", "bob", "physics", "batch", "PENDING", "Resources", 5, cpus=32),
        )  # fmt: skip
        return ClusterState("dev", "22.05.8", "fake", (node,), (Partition("batch", ("n1",), None),),
                            jobs)  # fmt: skip

    def history(self, *, start_s: int) -> list[object]:
        return []  # no recent accounting: every job runs for its whole request


def test_overview_live_shows_pending_reasons_in_plain_words(
    dash_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import context

    monkeypatch.setattr(context, "slurm_backend", FakeBackend)
    at = page("overview")
    at.query_params["source"] = "slurm"
    at.run()
    _ok(at)
    assert at.metric[0].value == "50%"
    pending = at.dataframe[0].value
    assert pending["why"].tolist() == ["waiting for enough free nodes, cores, memory or GPUs"]
    assert pending["start (plan)"].tolist() == ["not planned"]  # 32 cores on a 16-core node


def test_whatif_runs_compares_saves_and_reopens(dash_env: Path) -> None:
    at = page("whatif").run()
    _ok(at)
    at.number_input[0].set_value(300)
    next(b for b in at.button if b.label == "Run what-if").click().run()
    _ok(at)
    table = at.dataframe[0].value
    assert table["policy"].tolist() == ["fcfs:easy", "sjf:easy", "wfp3:easy", "multifactor:easy"]
    assert table["pareto"].any()
    assert len(at.get("vega_lite_chart")) == 2  # the Pareto and the fairness charts
    assert at.query_params["jobs"] == "300"
    next(b for b in at.button if b.label == "Save what-if").click().run()
    _ok(at)
    assert "Saved as" in at.success[0].value
    fresh = page("whatif").run()
    next(b for b in fresh.button if b.label == "Open saved").click().run()
    _ok(fresh)
    assert fresh.dataframe[0].value["policy"].tolist() == table["policy"].tolist()


def test_whatif_opens_a_shared_link_and_warns_on_a_bad_one(dash_env: Path) -> None:
    at = page("whatif")
    at.query_params["policies"] = "fcfs:none,sjf:easy"
    at.run()
    assert at.multiselect[0].value == ["fcfs:none", "sjf:easy"]
    bad = page("whatif")
    bad.query_params["policies"] = "nope"
    bad.run()
    _ok(bad)
    assert "not usable" in bad.warning[0].value


def test_whatif_on_a_stored_site_refuses_a_bad_line_then_compares_partitions(
    dash_env: Path,
) -> None:
    dash_env.mkdir(parents=True, exist_ok=True)
    store_lab_site(sqlite_url(dash_env / "schedsight.db"))
    at = page("whatif").run()
    _ok(at)
    at.radio[0].set_value("a stored site").run()
    assert at.selectbox(key="site_label").value == "lab@1"
    at.number_input(key="site_jobs").set_value(300)
    at.multiselect(key="site_policies").set_value(["fcfs:easy"])
    at.text_area[0].set_value("add 4 nodes to gpu\nfrobnicate the scheduler")
    next(b for b in at.button if b.label == "Run what-if").click().run()
    _ok(at)
    error = at.error[0].value
    assert "change line 2" in error and "frobnicate the scheduler" in error
    assert "add N nodes" in error and "fail switch NAME" in error  # the grammar
    assert not at.dataframe and "site" not in at.query_params  # nothing ran

    at.text_area[0].set_value("add 4 nodes to gpu\nfail switch s0 at 2h")
    next(b for b in at.button if b.label == "Run what-if").click().run()
    _ok(at)
    partitions, overall = at.dataframe[0].value, at.dataframe[1].value
    assert partitions["partition"].tolist() == ["batch", "gpu"]
    assert {"started_before", "started_after", "p95_wait_after", "usage_share_after"} <= set(
        partitions.columns
    )
    assert partitions["p95_wait_after"].map(lambda t: t[-1] in "sndh").all()  # "2 h 05 min"
    assert overall["site"].tolist() == ["as it is", "changed"]
    assert at.query_params["site"] == "lab@1"
    assert at.query_params["changes"] == "add 4 nodes to gpu\nfail switch s0 at 2h"

    shared = page("whatif")
    shared.query_params.update(at.query_params)
    shared.run()
    _ok(shared)
    assert shared.radio[0].value == "a stored site"
    assert shared.text_area[0].value == "add 4 nodes to gpu\nfail switch s0 at 2h"


def test_ask_shows_the_reading_before_the_answer_and_stores_it(dash_env: Path) -> None:
    at = page("ask").run()
    _ok(at)
    at.checkbox[0].uncheck()  # rules only: no language model in this test
    at.text_area[0].set_value("What if we lost 4 nodes tomorrow for 6 hours?")
    next(b for b in at.button if b.label == "Ask").click().run()
    _ok(at)
    reading = at.table[0].value
    assert int(reading["nodes (+ added, - removed)"].iloc[0]) == -4
    assert float(reading["starting in (h)"].iloc[0]) == 24.0
    headers = [h.value for h in at.subheader]
    assert headers.index("How the question was read") < headers.index("Answer")
    assert "Removing 4 nodes 24 h from now, for 6 h" in at.code[0].value
    decisions = page("decisions").run()
    assert "What if we lost 4 nodes" in decisions.expander[0].label


def _propose(action: dict[str, Any]) -> int:
    from dashboard import context

    with transaction(context.store().sessions) as session:
        row = record_decision(
            session,
            question="advise: shorter waits",
            proposal={"action": action, "chosen_by": "search"},
            rationale="sjf:easy halves the mean wait",
            objectives={"mean_wait_s": 100},
            guard_verdict="accepted",
        )
        return row.id


def test_only_an_admin_approves_and_the_approval_is_audited(dash_env: Path) -> None:
    from dashboard import context

    at = page("decisions").run()
    decision_id = _propose({"kind": "set_policy", "job_id": None, "policy": "sjf:easy"})
    at.run()
    _ok(at)
    approve = next(b for b in at.button if b.label == "Approve")
    assert approve.disabled
    at.text_input[0].input("wrong").run()
    assert "wrong admin token" in at.error[0].value
    at.text_input[0].input(ADMIN_TOKEN).run()
    next(b for b in at.button if b.label == "Approve").click().run()
    _ok(at)
    with transaction(context.store().sessions) as session:
        assert get_decision(session, decision_id=decision_id).status.value == "approved"
        [entry] = list_audit(session)
        assert (entry.action, entry.target) == ("approve", f"decision:{decision_id}")


def test_explain_predicts_explains_and_ranks_alternatives(dash_env: Path) -> None:
    from dashboard.explain import predict_available

    at = page("explain")
    at.run(timeout=120)  # trains the predictor once (cached for the other runs)
    _ok(at)
    if not predict_available():
        assert "not available" in at.warning[0].value
        return
    assert at.subheader[0].value.startswith("Predicted start: hour ")
    assert "80% interval" in at.markdown[0].value
    assert at.markdown[1].value.startswith("Most likely start: ")
    assert at.info[0].value.startswith("Predicted wait")
    assert len(at.get("image")) == 1  # the static SHAP waterfall
    alternatives = at.dataframe[0].value
    assert "as asked" in alternatives["change"].tolist()
    job = at.text_input[0].value
    assert at.query_params["job"] == job
    at.number_input[0].set_value(1).run(timeout=60)  # a planned variant: one processor
    _ok(at)
    assert "1 processors" in at.markdown[0].value
    at.text_input[0].input("999999").run(timeout=60)
    assert "Cannot explain job" in at.error[0].value


@pytest.mark.slurm
def test_overview_live_from_the_dev_slurm_cluster(dash_env: Path) -> None:
    from tests.hpc.slurm.conftest import _why_not_up, hold_cluster

    hold_cluster()  # one test session at a time drives the dev cluster
    if (reason := _why_not_up()) is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the Slurm tests)")
        pytest.skip(reason)
    at = page("overview")
    at.query_params["source"] = "slurm"
    at.run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    assert r"Slurm 22\.05" in at.caption[0].value  # escaped: renders as "Slurm 22.05"
    nodes = at.dataframe[-1].value
    assert {"node", "state", "cpus", "gpus"} <= set(nodes.columns) and len(nodes) >= 1
