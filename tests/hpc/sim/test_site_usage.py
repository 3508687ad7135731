"""Fair-share in the site replay starts from the usage sshare reported: users ranked as
Slurm's classic fair-share ranks them, F = 2^(-EffectiveUsage / NormShares), on hand-computed
cases; usage split over an account's users where the workload does not name them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hpc.sim import Policy
from hpc.sim.policy import QueueOrder
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_priority import SitePriority
from hpc.sim.site_usage import starting_usage
from hpc.site.model import Association, NodeType, PartitionSpec, PriorityWeights, Site
from tests.hpc.sim.workload import table


def _site(usage: tuple[float, float], shares: tuple[float, float]) -> Site:
    """One one-core node; accounts a (user alice) and b (user bob) with their usage and
    normalised shares as sshare reports them; priority by fair-share alone."""
    (alice, bob), (share_a, share_b) = usage, shares
    return Site(
        "fs", {"n": NodeType("n", cores=1, mem_mb=0)}, {"n1": "n"},
        (PartitionSpec("all", ("n1",), default=True),),
        associations=(
            Association("a", raw_usage=alice, norm_shares=share_a),
            Association("a", "alice", raw_usage=alice, norm_shares=share_a),
            Association("b", raw_usage=bob, norm_shares=share_b),
            Association("b", "bob", raw_usage=bob, norm_shares=share_b),
        ),
        weights=PriorityWeights(fairshare=1000),
    )  # fmt: skip


# Job 0 (bob) holds the node until 100; alice (user 1) submits job 1 at 1, bob (user 2)
# job 2 at 2. Who goes first at 100 is fair-share's choice.
ROWS = [(0, 100, 1, 100, 2), (1, 10, 1, 10, 1), (2, 10, 1, 10, 2)]
DEMAND = SiteDemand(
    partition=np.zeros(3, dtype=np.int64), nodes=np.zeros(3, dtype=np.int64),
    gpus=np.zeros(3, dtype=np.int64), mem_mb=np.zeros(3, dtype=np.int64),
    account=np.array([1, 0, 1]), qos=np.full(3, -1), accounts=("a", "b"), qos_names=(),
    users=("alice", "bob"),
)  # fmt: skip


@pytest.mark.parametrize(
    ("shares", "first"),
    [
        # Equal shares: alice's F = 2^(-(3000/4000)/0.5) = 0.354 (priority 353), bob's
        # 2^(-(1000/4000)/0.5) = 0.707 (707): bob, who used less, goes first.
        ((0.5, 0.5), [2, 1]),
        # alice holds 0.8 of the machine: 2^(-0.75/0.8) = 0.522 (522) beats bob's
        # 2^(-0.25/0.2) = 0.420 (420), though she used three times as much.
        ((0.8, 0.2), [1, 2]),
    ],
)
def test_two_users_rank_as_slurms_classic_fair_share(
    shares: tuple[float, float], first: list[int]
) -> None:
    site = _site((3000.0, 1000.0), shares)
    priority = SitePriority(table(ROWS), DEMAND, site, QueueOrder.MULTIFACTOR)
    assert priority.order([1, 2], now=2, tier=[1, 1, 1]) == first


def test_the_replay_starts_from_the_usage_read_not_from_zero() -> None:
    # From zero, bob's job 0 (100 core-s) is all the usage when the node frees at 100: alice
    # (F = 1) goes first. From sshare's 3000 for alice and 1000 for bob, bob (1100 by then)
    # goes first: 2^(-(1100/4100)/0.5) = 0.69 against alice's 2^(-(3000/4100)/0.5) = 0.36.
    policy = Policy.parse("multifactor:easy")
    used = _site((3000.0, 1000.0), (0.5, 0.5))
    fresh = dataclasses.replace(
        used, associations=tuple(dataclasses.replace(a, raw_usage=None) for a in used.associations)
    )
    assert simulate_site(table(ROWS), used, policy, DEMAND).result.start_s.tolist() == [0, 110, 100]
    assert simulate_site(table(ROWS), fresh, policy, DEMAND).result.start_s.tolist() == [
        0,
        100,
        110,
    ]


def test_without_user_names_an_accounts_usage_is_split_among_its_users() -> None:
    site = dataclasses.replace(
        _site((3000.0, 1000.0), (0.5, 0.5)),
        associations=(
            Association("a", "alice", raw_usage=3000.0),
            Association("a", "carol", raw_usage=1000.0),
            Association("b", "bob", raw_usage=1000.0),
            Association("c", "dave", raw_usage=500.0),
        ),
    )
    user, account = np.array([7, 8, 9, 7]), np.array([0, 0, 1, 0])
    start = starting_usage(site, user, account, ("a", "b"))
    assert start.per_user == {7: 2000.0, 8: 2000.0, 9: 1000.0}
    assert start.others == 500.0  # dave's, in no account of the workload: still in the total
    named = starting_usage(site, user, account, ("a", "b"), ("alice", "carol", "bob"))
    assert named.per_user == {7: 3000.0, 8: 1000.0, 9: 1000.0} and named.others == 500.0
    unread = dataclasses.replace(site, associations=(Association("a", "alice"),))
    assert starting_usage(unread, user, account, ("a", "b")).per_user == {}
