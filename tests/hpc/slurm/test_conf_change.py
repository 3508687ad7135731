"""A scheduling change as a slurm.conf diff against the site's current values."""

from __future__ import annotations

import dataclasses

import pytest

from hpc.errors import SiteError
from hpc.sim import Policy
from hpc.site.model import PriorityWeights, Scheduling
from hpc.slurm.conf_change import ConfChange, conf_values, policy_values
from tests.lab_site import lab_site


def test_a_basic_site_moved_to_multifactor_is_a_diff_of_the_priority_lines() -> None:
    site = lab_site()  # priority/basic, sched/backfill
    weighted = dataclasses.replace(site, weights=PriorityWeights(age=1000, fairshare=100,
                                                                  job_size=100))  # fmt: skip
    change = ConfChange(conf_values(site), policy_values(weighted, Policy.parse(
        "multifactor:conservative")), "site lab@1")  # fmt: skip
    assert change.diff() == (
        "--- slurm.conf (site lab@1)\n"
        "+++ slurm.conf (proposed)\n"
        "@@ -1,2 +1,8 @@\n"
        " SchedulerType=sched/backfill\n"
        "-PriorityType=priority/basic\n"
        "+PriorityType=priority/multifactor\n"
        "+PriorityWeightAge=1000\n"
        "+PriorityWeightFairshare=100\n"
        "+PriorityWeightJobSize=100\n"
        "+PriorityWeightPartition=0\n"
        "+PriorityWeightQOS=0\n"
        "+PriorityFavorSmall=NO\n"
    )
    assert ConfChange.from_action(change.as_action()) == change


def test_strict_order_is_sched_builtin_and_no_change_is_no_diff() -> None:
    site = lab_site()
    assert policy_values(site, Policy.parse("fcfs:none")) == {
        "SchedulerType": "sched/builtin", "PriorityType": "priority/basic"}  # fmt: skip
    same = ConfChange(conf_values(site), policy_values(site, Policy.parse("fcfs:conservative")),
                      "x")  # fmt: skip
    assert same.changed == {} and same.diff() == ""
    builtin = dataclasses.replace(site, scheduling=Scheduling(scheduler="sched/builtin"))
    assert conf_values(builtin)["SchedulerType"] == "sched/builtin"


@pytest.mark.parametrize(("policy", "message"), [("sjf:conservative", "no slurm.conf form"),
                                                 ("fcfs:easy", "EASY backfill")])  # fmt: skip
def test_what_slurm_cannot_run_has_no_diff(policy: str, message: str) -> None:
    with pytest.raises(SiteError, match=message):
        policy_values(lab_site(), Policy.parse(policy))


def test_other_kinds_are_not_conf_changes() -> None:
    assert ConfChange.from_action({"kind": "nice", "job_id": 3, "value": -5}) is None
