"""The What-if page's site mode, without Streamlit: what it offers to choose, a what-if per
partition before and after, and a bad change line refused before anything is replayed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dashboard.scenario import GENERATED, ScenarioError, WhatIfRequest
from dashboard.site_whatif import (
    run_site_whatif,
    site_choices,
    site_workload_for,
    stored_site,
    workload_choices,
)
from db.session import sqlite_url, transaction
from db.sites import save_site
from db.store import Store
from db.workloads import import_workload
from hpc.site.model import PartitionSpec
from hpc.site.whatif import ChangeLineError
from hpc.workload.loading import prepare_workload
from hpc.workload.lublin import generate
from tests.lab_site import lab_site, store_lab_site


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = sqlite_url(tmp_path / "schedsight.db")
    store_lab_site(url)
    store = Store.open(url)
    with transaction(store.sessions) as session:
        loaded = prepare_workload(generate(200, seed=4, procs=256), procs=256)
        import_workload(session, trace=loaded.trace, name="old-log", cleaning=loaded.report)
    return store


def _request(*changes: str, workload: str = GENERATED) -> WhatIfRequest:
    return WhatIfRequest(jobs=300, seed=1, policies=("fcfs:easy", "multifactor:easy"),
                         site="lab@1", workload=workload, changes=changes)  # fmt: skip


def test_it_offers_every_stored_version_and_workload(store: Store) -> None:
    assert site_choices(store) == ["lab@1"]
    with transaction(store.sessions) as session:
        bigger = dataclasses.replace(lab_site(), partitions=(
            PartitionSpec("batch", ("c0", "c1", "c2", "c3", "c4", "c5", "g0"), default=True),
            PartitionSpec("gpu", ("g0", "g1")),
        ))  # fmt: skip
        save_site(session, bigger)
    assert site_choices(store) == ["lab@2", "lab@1"]
    choices = workload_choices(store)
    assert list(choices) == [GENERATED, "workload:1"]
    assert choices["workload:1"] == "workload 1: old-log (200 jobs)"
    with pytest.raises(ScenarioError, match="no version 9"):
        stored_site(store, "lab@9")


def test_more_gpu_nodes_shorten_the_gpu_partitions_waits(store: Store) -> None:
    site = stored_site(store, "lab@1")
    workload = site_workload_for(store, site, GENERATED, jobs=300, seed=1)
    seen: list[tuple[int, int]] = []
    request = _request("add 4 nodes to gpu", "# and nothing else")
    outcome = run_site_whatif(request, site, workload, lambda d, t, _: seen.append((d, t)))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert outcome.changes == ("add 4 nodes to gpu",)
    rows = {(r["policy"], r["partition"]): r for r in outcome.partitions()}
    assert set(rows) == {(p, q) for p in request.policies for q in ("batch", "gpu")}
    gpu = rows["fcfs:easy", "gpu"]
    assert gpu["jobs"] > 0 and gpu["mean_wait_s_after"] <= gpu["mean_wait_s_before"]
    assert gpu["started_after"] == gpu["started_before"] == gpu["jobs"]
    overall = outcome.overall()
    first = [("fcfs:easy", "as it is"), ("fcfs:easy", "changed")]
    assert [(r["policy"], r["site"]) for r in overall][:2] == first
    assert overall[1]["utilization"] < overall[0]["utilization"]  # same work, more cores


def test_a_stored_workload_replays_on_the_site(store: Store) -> None:
    site = stored_site(store, "lab@1")
    workload = site_workload_for(store, site, "workload:1", jobs=10, seed=0)
    assert workload.label == "workload 1 (old-log)" and len(workload.jobs) == 200
    outcome = run_site_whatif(_request("remove 3 nodes from batch"), site, workload)
    batch = outcome.partitions()[0]
    assert batch["partition"] == "batch" and batch["jobs"] == 200  # no names: the default one
    with pytest.raises(ScenarioError, match="no workload with id 5"):
        site_workload_for(store, site, "workload:5", jobs=10, seed=0)


def test_a_bad_line_names_itself_and_the_grammar_and_nothing_runs(store: Store) -> None:
    site = stored_site(store, "lab@1")
    workload = site_workload_for(store, site, GENERATED, jobs=300, seed=1)
    seen: list[int] = []
    for changes, number, text in (
        (("add 4 nodes to gpu", "", "grow the gpu partition"), 3, "grow the gpu partition"),
        (("add 4 nodes to gpu", "remove 2 nodes from nowhere"), 2, "remove 2 nodes from nowhere"),
    ):
        with pytest.raises(ChangeLineError) as caught:
            run_site_whatif(_request(*changes), site, workload, lambda d, t, _: seen.append(d))
        assert (caught.value.number, caught.value.text) == (number, text)
        assert f"change line {number} {text!r}" in str(caught.value)
        assert "move N nodes from P to P" in str(caught.value)  # the grammar
    assert seen == []
