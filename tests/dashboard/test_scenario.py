"""What-if logic: links round-trip, bad input is refused, the Pareto front is right."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.replay import generated_workload, replay, snapshot, utilization_series
from dashboard.saved import list_saved, open_saved, save_whatif
from dashboard.scenario import PolicyOutcome, ScenarioError, WhatIfRequest, pareto_front, run_whatif
from db.migrate import upgrade
from db.session import make_engine
from schedsight.settings import Settings
from schedsight.storage import Store


def test_request_round_trips_through_the_query_string() -> None:
    req = WhatIfRequest(jobs=500, seed=3, policies=("fcfs:none", "sjf:easy"),
                        capacity=("fail@3600:32",), weights=(1.0, 2.0, 3.0, 0.0))  # fmt: skip
    assert WhatIfRequest.from_query(req.to_query()) == req


def test_a_site_whatif_round_trips_with_its_change_lines() -> None:
    changes = ("add 4 nodes to gpu", "", "qos long MaxTRESPU=cpu=256,mem=9")
    req = WhatIfRequest(jobs=300, seed=2, policies=("multifactor:easy",), site="lab@1",
                        workload="workload:3", changes=changes)  # fmt: skip
    query = req.to_query()
    assert query["changes"].splitlines()[2] == "qos long MaxTRESPU=cpu=256,mem=9"
    assert WhatIfRequest.from_query(query) == req
    assert "site" not in WhatIfRequest().to_query()  # a plain what-if's link stays as it was
    linked = WhatIfRequest.from_query({"site": "lab@2"})
    assert linked.policies == ("fcfs:easy", "sjf:easy", "multifactor:easy")  # no wfp3 on a site


@pytest.mark.parametrize(
    "query",
    [
        {"policies": "nope:easy"},
        {"capacity": "fail@x:3"},
        {"jobs": "many"},
        {"weights": "1,2"},
        {"site": "lab"},
        {"site": "lab@1", "workload": "mine"},
        {"site": "lab@1", "policies": "wfp3:easy"},
    ],
)
def test_bad_links_are_refused_with_a_reason(query: dict[str, str]) -> None:
    with pytest.raises(ScenarioError):
        WhatIfRequest.from_query(query)


def _o(name: str, wait: float, util: float) -> PolicyOutcome:
    return PolicyOutcome(name, {"mean_wait_s": wait, "utilization": util}, [], [])


def test_pareto_front_keeps_only_undominated_policies() -> None:
    outcomes = [_o("a", 10, 0.5), _o("b", 20, 0.9), _o("c", 30, 0.8), _o("d", 10, 0.4)]
    assert pareto_front(outcomes) == {"a", "b"}


def test_whatif_compares_reports_progress_and_saves(tmp_path: Path) -> None:
    loaded = generated_workload(300, 1, 64)
    seen: list[tuple[int, int]] = []
    req = WhatIfRequest(jobs=300, seed=1, procs=64, capacity=("fail@3600:16",))
    outcome = run_whatif(req, loaded, lambda done, total, _: seen.append((done, total)))
    rows = outcome.comparison()
    assert [r["policy"] for r in rows] == list(req.policies)
    assert any(r["pareto"] for r in rows)
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert {f["policy"] for f in outcome.fairness()} == set(req.policies)

    settings = Settings(data_dir=tmp_path)
    upgrade(make_engine(settings.resolved_database_url()))
    store = Store.open(settings.resolved_database_url())
    path = save_whatif(store, tmp_path, "My what-if!", outcome, loaded)
    assert path.name == "my-what-if.json"
    [saved] = list_saved(tmp_path)
    assert len(saved["run_ids"]) == 4
    again = open_saved(tmp_path, saved["key"])
    assert again.request == req and again.comparison() == rows


def test_replay_snapshot_says_why_jobs_wait() -> None:
    result = replay(generated_workload(400, 2, 64))
    series = utilization_series(result, points=50)
    assert len(series) == 50 and all(0.0 <= p["utilization"] <= 1.0 for p in series)
    busiest = max(series, key=lambda p: p["utilization"])
    snap = snapshot(result, int(result.jobs.submit_s.min() + busiest["hour"] * 3600))
    assert snap.busy <= snap.capacity
    for row in snap.pending:
        assert row["reason"] in ("Resources", "Priority") and row["why"].startswith("waiting")
