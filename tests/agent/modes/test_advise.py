"""advise: a Pareto set over five objectives with a trade-off sentence for each member, the
constraints checked, a pick by the goal that the guard holds to the held-back data, and on a
site the Slurm actions that carry it out."""

from __future__ import annotations

import re

import pytest

from agent.modes.advise import advise, advise_site, site_specs
from agent.modes.site_actions import action_records, nice_actions, site_actions
from hpc.model import Machine
from hpc.objectives import Constraint, Goal, Measure, Objective
from hpc.site.whatif import generated_site_workload
from hpc.slurm.remit import Remit
from hpc.slurm.state import LiveJob
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate
from tests.lab_site import lab_site

SMALL_WAIT = Constraint(Measure.P95_WAIT, 3600, under_cores=16)
GOAL = Goal(weights={Objective.MEAN_WAIT: 1.0}, constraints=(SMALL_WAIT,))


@pytest.fixture(scope="module")
def one_pool() -> tuple[object, Machine]:
    machine = Machine.procs_only(128)
    jobs, _ = clean(generate(500, seed=3, procs=128), machine=machine)
    return jobs, machine


def test_the_pareto_set_is_over_five_objectives_with_a_sentence_each(one_pool) -> None:  # type: ignore[no-untyped-def]
    result = advise(*one_pool, GOAL)
    assert set(result.searched[0].values) == set(Objective)
    names = {c.name for c in result.pareto}
    assert names <= set(result.trade_offs) and len(result.pareto) >= 2
    for c in result.pareto:
        others = [d for d in result.searched if d is not c]
        assert not any(_dominates(d.values, c.values) for d in others)
    for name, text in result.trade_offs.items():
        assert text.startswith(name)
        if name != "fcfs:easy" and "within" not in text:
            assert re.search(r"\d+% \(|from \d", text), text


def _dominates(a: dict[Objective, float], b: dict[Objective, float]) -> bool:
    signed = lambda v, o: v if o.lower_is_better else -v  # noqa: E731
    pairs = [(signed(a[o], o), signed(b[o], o)) for o in Objective]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def test_the_pick_is_never_worse_than_the_baseline_held_back(one_pool) -> None:  # type: ignore[no-untyped-def]
    result = advise(*one_pool, GOAL)
    held = result.held_back
    assert held["recommended"]["mean_wait"] <= held["fcfs:easy"]["mean_wait"] + 1e-9
    assert [c.constraint for c in result.recommended.checks] == [SMALL_WAIT]
    assert result.record.verdict["verdict"] == "accepted"
    pareto = result.record.objectives["pareto"]
    assert {"mean_wait", "mean_bsld", "utilization", "fairness", "makespan"} <= set(pareto[0])


def test_an_infeasible_goal_says_so_and_gives_the_closest(one_pool) -> None:  # type: ignore[no-untyped-def]
    goal = Goal(order=(Objective.MEAN_WAIT,),
                constraints=(Constraint(Measure.UTILIZATION, 0.99),))  # fmt: skip
    result = advise(*one_pool, goal)
    assert not result.feasible and not any(c.feasible for c in result.searched)
    assert "infeasible" in result.record.rationale


def test_a_higher_is_better_objective_is_guarded_the_right_way_round(one_pool) -> None:  # type: ignore[no-untyped-def]
    result = advise(*one_pool, Goal(weights={Objective.FAIRNESS: 1.0}))
    held = result.held_back
    assert held["recommended"]["fairness"] >= held["fcfs:easy"]["fairness"] - 1e-9


def test_site_advice_searches_what_slurm_runs_and_ends_in_actions() -> None:
    site = lab_site()
    workload = generated_site_workload(300, 1, site)
    goal = Goal(weights={Objective.MEAN_WAIT: 1.0}, constraints=(SMALL_WAIT,))
    result = advise_site(workload, site, goal)
    assert result.baseline == "as it is (fcfs:conservative)"
    assert {c.spec.policy.order.value for c in result.searched} == {"fcfs", "multifactor"}
    assert {c.spec.policy.backfill.value for c in result.searched} == {"conservative", "none"}
    actions, notes = site_actions(result, site, "site lab@1", remit=Remit.everything(), now_s=0)
    pick = result.recommended
    if pick.name == result.baseline:
        assert actions == []
    else:
        (conf,) = [a for a in actions if a.action["kind"] == "slurm_conf"]
        assert conf.action["diff"].startswith("--- slurm.conf (site lab@1)\n+++ slurm.conf")
    records = action_records(actions, result, "t")
    assert all(r.verdict["verdict"] == "accepted" for r in records)
    assert notes == []


def test_qos_candidates_only_where_the_jobs_carry_a_qos() -> None:
    site = lab_site()
    fair = Goal(weights={Objective.FAIRNESS: 1.0})
    assert not any("qos" in s.name for s in site_specs(site, fair, has_qos=False))
    lines = [s.changes for s in site_specs(site, fair, has_qos=True) if "qos" in s.name]
    assert ("qos long MaxTRESPA=cpu=128",) in lines and ("qos normal MaxTRESPA=cpu=64",) in lines


def _job(job_id: int, cpus: int, priority: int, waited_s: int, **kw: object) -> LiveJob:
    fields = {"job_id": job_id, "name": f"j{job_id}", "user": "u", "account": "physics",
              "partition": "batch", "state": "PENDING", "reason": "Priority",
              "submit_s": 10_000 - waited_s, "cpus": cpus, "priority": priority}  # fmt: skip
    return LiveJob(**(fields | kw))  # type: ignore[arg-type]


def test_small_jobs_waiting_past_their_bound_are_niced_to_the_front() -> None:
    pending = [
        _job(1, 64, 500, 9000),  # large: out of the constraint's scope
        _job(2, 4, 100, 7200),  # small, waited 2 h, behind job 1: niced
        _job(3, 4, 900, 7200),  # small, already first: nothing to do
        _job(4, 4, 50, 600),  # small, waited 10 min only
        _job(5, 4, 10, 7200, reason="JobHeldUser"),  # held: the user's decision
        _job(6, 4, 10, 7200, account="chemistry"),  # outside the remit
    ]
    actions, skipped = nice_actions(pending, GOAL, 10_000, Remit.of(["physics"], ["batch"]))
    assert skipped == 1
    (a,) = actions
    assert a.action == {"kind": "nice", "job_id": 2, "value": -801, "job_name": "j2",
                        "account": "physics"}  # fmt: skip
    assert "waited 2 h" in a.why and "p95 wait of jobs under 16 cores <= 1 h" in a.why


def test_a_small_difference_is_shown_with_enough_digits() -> None:
    from agent.modes.tradeoffs import phrase

    assert (
        phrase(Objective.FAIRNESS, 0.0312, 0.0329) == "raises Jain fairness from 0.0312 to 0.0329"
    )
    assert (
        phrase(Objective.MEAN_WAIT, 7500, 5160) == "cuts mean wait 31% (2 h 05 min -> 1 h 26 min)"
    )
