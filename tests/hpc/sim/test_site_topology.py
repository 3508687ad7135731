"""Topology-aware placement in the site replay: Slurm's topology/tree rule on hand-computed
switch trees, the default and explicit rule, a failed switch, and properties on random trees
(no node over-allocated; never more leaf switches than the free nodes make necessary)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hpc.errors import SimulationError
from hpc.model import JobTable
from hpc.sim import Policy
from hpc.sim.site_engine import SiteEngine, SiteResult, simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_nodes import NodePool, Slot, ints
from hpc.sim.site_topology import PlacementRule, SwitchTree, leaf_spans
from hpc.site.changes import apply_changes, parse_change
from hpc.site.model import NodeType, PartitionSpec, Site, Switch
from tests.hpc.sim.workload import table

CORES = 4


def _site(leaves: Sequence[int], *, top: bool = True, extra: Sequence[Switch] = ()) -> Site:
    """Leaf switches s1, s2... of `leaves[i]` nodes (n1, n2... in order, 4 cores each) under
    one switch "top"; partitions "all", and "one" and "five" (the nodes n1 and n5 alone)."""
    names = [f"n{i + 1}" for i in range(sum(leaves))]
    switches, k = [], 0
    for i, size in enumerate(leaves):
        switches.append(Switch(f"s{i + 1}", nodes=tuple(names[k : k + size])))
        k += size
    if top:
        switches.append(Switch("top", switches=tuple(s.name for s in switches)))
    parts = [PartitionSpec("all", tuple(names), default=True), PartitionSpec("one", ("n1",))]
    if len(names) >= 5:
        parts.append(PartitionSpec("five", ("n5",)))
    return Site(
        "topo", {"c": NodeType("c", cores=CORES, mem_mb=0)}, dict.fromkeys(names, "c"),
        tuple(parts), switches=(*switches, *extra),
    )  # fmt: skip


def _jobs(rows: Sequence[tuple[int, ...]]) -> tuple[JobTable, SiteDemand]:
    """Rows (submit_s, run_s, cores, req_time_s, partition, nodes) as jobs and their demand."""
    zeros = np.zeros(len(rows), dtype=np.int64)
    partition, nodes = (np.array([r[k] for r in rows], dtype=np.int64) for k in (4, 5))
    demand = SiteDemand(partition=partition, nodes=nodes, gpus=zeros, mem_mb=zeros, account=zeros,
                        qos=zeros - 1, accounts=("x",), qos_names=())  # fmt: skip
    return table([r[:4] for r in rows]), demand


def _run(rows: Sequence[tuple[int, ...]], site: Site, placement: str | None = None) -> SiteResult:
    """Rows as in `_jobs`, replayed under fcfs:easy."""
    jobs, demand = _jobs(rows)
    return simulate_site(jobs, site, Policy.parse("fcfs:easy"), demand, placement=placement)


def _nodes(result: SiteResult, job: int) -> list[int]:
    place = result.placements[job]
    assert place is not None
    nodes: list[int] = place.nodes.tolist()
    return nodes


BUSY_N1 = (0, 100, 1, 100, 1, 0)  # one core of n1 until 100 (partition "one")
BUSY_N5 = (0, 100, 1, 100, 2, 0)
FOUR_NODES = (1, 10, 4 * CORES, 10, 0, 4)


# ---------------------------------------------------------------- the rule, by hand
def test_a_four_node_job_lands_under_the_leaf_switch_that_has_four_free() -> None:
    # s1 (n1-n4) has 3 free nodes, s2 (n5-n8) 4: the job takes n5-n8, one leaf switch.
    # Best fit alone takes the first four usable nodes, n2-n5, across both.
    site = _site([4, 4])
    assert _nodes(_run([BUSY_N1, FOUR_NODES], site), 1) == [4, 5, 6, 7]
    assert _nodes(_run([BUSY_N1, FOUR_NODES], site, "best-fit"), 1) == [1, 2, 3, 4]


def test_it_spans_two_leaf_switches_only_when_none_has_four_free() -> None:
    # 3 free on each leaf: the most free first (s1 on a tie), then the rest where it fits.
    result = _run([BUSY_N1, BUSY_N5, FOUR_NODES], _site([4, 4]))
    assert _nodes(result, 2) == [1, 2, 3, 5]
    row = result.partition_summary()[0]
    assert (row.partition, row.multi_node, row.mean_leaf_switches) == ("all", 1, 2.0)


def test_of_the_leaf_switches_that_hold_it_the_one_with_least_free() -> None:
    # s1 has 6 free nodes, s2 4: best fit among the leaves is s2 (n7-n10).
    result = _run([FOUR_NODES], _site([6, 4]))
    assert _nodes(result, 0) == [6, 7, 8, 9]
    assert result.partition_summary()[0].mean_leaf_switches == 1.0


def test_the_lowest_switch_whose_subtree_holds_the_job() -> None:
    # top over m1 (s1, s2) and m2 (s3, s4), two nodes a leaf. n1 busy: m1 has 3 free, m2
    # 4, so the job goes under m2 (n5-n8) on two leaves, not across m1 and m2.
    mids = (Switch("m1", switches=("s1", "s2")), Switch("m2", switches=("s3", "s4")),
            Switch("top", switches=("m1", "m2")))  # fmt: skip
    site = _site([2, 2, 2, 2], top=False, extra=mids)
    assert _nodes(_run([BUSY_N1, FOUR_NODES], site), 1) == [4, 5, 6, 7]


def test_a_job_spread_over_cores_takes_the_fewest_leaf_switches() -> None:
    # 16 cores on 4-core nodes, no node count: s1 has 15 free cores, s2 16. Best fit spreads
    # over the one run n1-n8 from n1 on (3 + 4 + 4 + 4 + 1 cores, two leaves).
    site = _site([4, 4])
    spread = (1, 10, 4 * CORES, 10, 0, 0)
    topo = _run([BUSY_N1, spread], site).placements[1]
    assert topo is not None and topo.nodes.tolist() == [4, 5, 6, 7]
    plain = _run([BUSY_N1, spread], site, "best-fit").placements[1]
    assert plain is not None and plain.cores.tolist() == [3, 4, 4, 4, 1]


def test_a_job_no_switch_holds_never_starts() -> None:
    # Two trees with no common switch: a six-node job cannot span them (Slurm's jobs span
    # one switch fabric), though best fit would start it.
    site = _site([4, 4], top=False)
    six = (0, 10, 6 * CORES, 10, 0, 6)
    assert _run([six], site).reasons[0] == "PartitionConfig"
    assert _run([six], site, "best-fit").result.start_s.tolist() == [0]


def test_a_failed_switch_still_takes_its_subtree_out() -> None:
    # s2 failed: the four-node job waits for n1 and runs on s1's nodes.
    site = apply_changes(_site([4, 4]), [parse_change("fail switch s2")])
    result = _run([BUSY_N1, FOUR_NODES], site)
    assert result.result.start_s.tolist() == [0, 100]
    assert _nodes(result, 1) == [0, 1, 2, 3]


def test_the_rule_defaults_to_topology_only_where_there_are_switches() -> None:
    assert _run([FOUR_NODES], _site([4, 4])).rule is PlacementRule.TOPOLOGY
    plain = Site("flat", {"c": NodeType("c", cores=CORES, mem_mb=0)}, {"n1": "c", "n2": "c"},
                 (PartitionSpec("all", ("n1", "n2"), default=True),))  # fmt: skip
    jobs = table([(0, 10, 8, 10)])
    assert simulate_site(jobs, plain, Policy.parse("fcfs:easy")).rule is PlacementRule.BEST_FIT
    with pytest.raises(SimulationError, match="no switch tree"):
        simulate_site(jobs, plain, Policy.parse("fcfs:easy"), placement="topology")
    with pytest.raises(SimulationError, match="best-fit, topology"):
        PlacementRule.parse("nearest")
    assert leaf_spans(plain, [None]).tolist() == [-1]


# ---------------------------------------------------------------- properties
def _fewest_leaves(tree: SwitchTree, amounts: dict[int, int], need: int) -> int | None:
    """By brute force: the fewest leaves whose nodes' amounts add up to `need` (one tree)."""
    per_leaf = [0] * tree.n_leaves
    for n, amount in amounts.items():
        if tree.leaf_of[n] >= 0:
            per_leaf[tree.leaf_of[n]] += max(amount, 0)
    for k in range(1, tree.n_leaves + 1):
        if any(sum(c) >= need for c in combinations(per_leaf, k)):
            return k
    return None


@st.composite
def _tree_site(draw: st.DrawFn) -> Site:
    return _site(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))


@settings(max_examples=300, deadline=None)
@given(site=_tree_site(), data=st.data())
def test_a_placement_fits_the_free_nodes_on_the_fewest_leaves(
    site: Site, data: st.DataObject
) -> None:
    pool = NodePool(site)
    tree = pool.topology = SwitchTree.of(site)
    n = len(site.nodes)
    fc = [data.draw(st.integers(0, CORES)) for _ in range(n)]
    free = (ints(fc), ints([0] * n), ints([0] * n))
    count = data.draw(st.sampled_from([0, 2, 3, 4, 6]))
    per = data.draw(st.integers(1, CORES))
    cores = count * per if count else data.draw(st.integers(CORES + 1, 4 * CORES))
    slot = pool.fit(range(n), (count, cores, 0, 0), free)
    amounts = {i: (fc[i] >= per) if count else fc[i] for i in range(n)}
    need = _fewest_leaves(tree, amounts, count or cores)
    if slot is None:
        assert need is None
        return
    nodes, on = slot[0], slot[1]
    assert len(set(nodes)) == len(nodes) and sum(on) >= cores
    assert all(c <= fc[i] for i, c in zip(nodes, on, strict=True))
    assert tree.spans(nodes) == need


@st.composite
def _tree_case(draw: st.DrawFn) -> tuple[Site, list[tuple[int, ...]]]:
    site = draw(_tree_site())
    n = len(site.nodes)
    rows = []
    for _ in range(draw(st.integers(1, 15))):
        count = draw(st.integers(0, n))
        cores = count * draw(st.integers(1, CORES)) if count else draw(st.integers(1, 2 * CORES))
        req = draw(st.integers(1, 200))
        rows.append((draw(st.integers(0, 300)), draw(st.integers(0, req)), cores, req, 0, count))
    return site, sorted(rows)


class _Timeline(SiteEngine):
    """The engine itself, noting its starts and ends (job, second, +1 start / -1 end) in the
    order it makes them: within one second a job of no time holds its nodes from its start
    until the pass that started it is over, which the seconds in the result cannot show."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[int, int, int]] = []

    def _start(self, job: int, slot: Slot, now: int) -> None:
        super()._start(job, slot, now)
        self.events.append((job, now, 1))

    def _finish(self, job: int, now: int) -> None:
        super()._finish(job, now)
        self.events.append((job, now, -1))


@settings(max_examples=150, deadline=None)
@given(_tree_case())
# A job of no time on n3 and n4 (leaf s3) while the next job, started in the same pass, is
# placed: that one sees n3 and n4 taken, so it spans s1 and s2.
@example((_site([1, 1, 2]), [(0, 0, 8, 1, 0, 2), (0, 1, 2, 1, 0, 2)]))
def test_a_replay_never_over_allocates_nor_spans_more_leaves_than_needed(
    case: tuple[Site, list[tuple[int, ...]]],
) -> None:
    # Replayed start by start and end by end in the engine's own order, jobs of no time
    # included: each job fits what the nodes have free just before it starts, and a
    # multi-node job spans the fewest leaf switches that those free nodes allow.
    site, rows = case
    engine = _Timeline(*_jobs(rows), site, Policy.parse("fcfs:easy"))
    engine.run()
    out = engine.result(0.0)
    start, end = out.result.start_s.tolist(), out.result.end_s.tolist()
    tree = SwitchTree.of(site)
    free = [CORES] * len(site.nodes)
    for j, now, sign in engine.events:
        assert now == (start[j] if sign > 0 else end[j])
        place = out.placements[j]
        assert place is not None
        nodes, cores = place.nodes.tolist(), place.cores.tolist()
        if sign > 0 and len(nodes) > 1:
            count, asked = rows[j][5], rows[j][2]
            amounts = {
                i: (free[i] >= asked // count) if count else free[i] for i in range(len(free))
            }
            assert tree.spans(nodes) == _fewest_leaves(tree, amounts, count or asked)
        for node, c in zip(nodes, cores, strict=True):
            free[node] -= sign * c
            assert 0 <= free[node] <= CORES  # nobody over-allocated, at any moment
    started = [j for j, _, sign in engine.events if sign > 0]
    assert sorted(started) == [j for j in range(len(rows)) if start[j] >= 0]
    assert free == [CORES] * len(site.nodes)  # every job started has ended
