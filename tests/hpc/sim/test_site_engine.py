"""The site replay: each rule on a hand-computed case, invariants on random sites, and the
one-partition site replaying traces job for job as the one-pool engine does."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpc.model import JobTable, Machine
from hpc.sim import Policy, simulate, site_engine
from hpc.sim.site_engine import SiteResult, simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_limits import QosUsage
from hpc.sim.site_policy import own_policy
from hpc.site.model import (
    NodeType,
    PartitionSpec,
    PriorityWeights,
    QosSpec,
    Reservation,
    Scheduling,
    Site,
)
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate
from tests.hpc.sim.workload import table

# A row: (submit_s, run_s, cores, req_time_s, user, partition, gpus, nodes, qos, mem_mb)
Row = tuple[int, int, int, int, int, int, int, int, int, int]


def _site(**kw: object) -> Site:
    """Two nodes a, b (8 cores, 2 GPUs, 100 MB) in partition "cpu" (a) and "gpu" (b), and
    one partition "all" with both; QOS "low" and "high"."""
    fields: dict[str, object] = {
        "name": "t",
        "node_types": {"n": NodeType("n", cores=8, mem_mb=100, gpus=2, gpu_type="a100")},
        "nodes": {"a": "n", "b": "n"},
        "partitions": (
            PartitionSpec("cpu", ("a",), max_time_s=1000, default=True),
            PartitionSpec("gpu", ("b",)),
            PartitionSpec("all", ("a", "b")),
        ),
        "qos": {"low": QosSpec("low", priority=0), "high": QosSpec("high", priority=100)},
    }
    return Site(**(fields | kw))  # type: ignore[arg-type]


def _run(rows: Sequence[tuple[int, ...]], site: Site, policy: str = "fcfs:easy") -> SiteResult:
    full = [(*r, *(0, 0, 0, 0, -1, 0)[len(r) - 4 :]) for r in rows]
    jobs = table([r[:5] for r in full])
    col = lambda k: np.array([r[k] for r in full], dtype=np.int64)  # noqa: E731
    demand = SiteDemand(
        partition=col(5), gpus=col(6), nodes=col(7), qos=col(8), mem_mb=col(9),
        account=np.zeros(len(full), dtype=np.int64), accounts=("x",), qos_names=("low", "high"),
    )  # fmt: skip
    return simulate_site(jobs, site, Policy.parse(policy), demand)


def _starts(result: SiteResult) -> list[int]:
    return result.result.start_s.tolist()


def test_a_job_runs_only_on_its_partitions_nodes() -> None:
    # Node a is full; the cpu job waits for it although node b is idle.
    result = _run([(0, 100, 8, 100), (0, 10, 4, 10)], _site())
    assert _starts(result) == [0, 100]
    assert result.reasons[1] == "Resources"
    assert [p.nodes.tolist() for p in result.placements if p] == [[0], [0]]


def test_gpus_are_a_resource_like_cores() -> None:
    # Two jobs of 2 GPUs on node b (2 GPUs): the second waits although 6 cores are free.
    result = _run([(0, 50, 1, 50, 0, 1, 2), (0, 50, 1, 50, 0, 1, 2)], _site())
    assert _starts(result) == [0, 50]


def test_memory_is_a_resource_where_the_node_declares_it() -> None:
    rows = [(0, 30, 1, 30, 0, 0, 0, 0, -1, 80), (0, 30, 1, 30, 0, 0, 0, 0, -1, 30)]
    assert _starts(_run(rows, _site())) == [0, 30]


def test_a_job_asking_for_two_nodes_gets_half_on_each() -> None:
    result = _run([(0, 10, 12, 10, 0, 2, 2, 2)], _site())
    place = result.placements[0]
    assert place is not None and place.nodes.tolist() == [0, 1]
    assert (place.cores.tolist(), place.gpus.tolist()) == ([6, 6], [1, 1])


def test_a_job_no_node_holds_spreads_its_tasks_over_the_best_fit_run() -> None:
    # Node a has 3 cores free (job 0 holds 5), b is empty: a 10-core "all" job takes 3 on
    # a and 7 on b, as Slurm spreads tasks, not 5 and 5.
    result = _run([(0, 100, 5, 100), (1, 10, 10, 10, 0, 2)], _site())
    place = result.placements[1]
    assert place is not None
    assert (place.nodes.tolist(), place.cores.tolist()) == ([0, 1], [3, 7])


def test_qos_per_user_cpu_limit_holds_a_users_second_job_back() -> None:
    site = _site(qos={"low": QosSpec("low", max_tres_per_user={"cpu": 4}), "high": QosSpec("high")})
    rows = [(0, 100, 4, 100, 1, 2, 0, 0, 0), (0, 100, 4, 100, 1, 2, 0, 0, 0),
            (0, 100, 4, 100, 2, 2, 0, 0, 0)]  # fmt: skip
    result = _run(rows, site)
    assert _starts(result) == [0, 100, 0]  # user 2 is not held back by user 1's limit
    assert result.reasons[1] == "QOSMaxCpuPerUserLimit"


def test_nothing_starts_inside_a_maintenance_reservation() -> None:
    maint = Reservation("m", ("a",), start_s=100, end_s=200, maintenance=True)
    rows = [(0, 150, 1, 150), (0, 50, 1, 50)]  # the first would run into the window
    assert _starts(_run(rows, _site(reservations=(maint,)))) == [200, 0]


def test_a_job_longer_than_its_partition_allows_never_starts() -> None:
    result = _run([(0, 10, 1, 2000)], _site())
    assert _starts(result) == [-1] and result.reasons[0] == "PartitionTimeLimit"


def test_a_job_bigger_than_its_partition_never_starts() -> None:
    result = _run([(0, 10, 9, 10)], _site())
    assert _starts(result) == [-1] and result.reasons[0] == "PartitionConfig"


def test_multifactor_qos_priority_orders_the_queue() -> None:
    site = _site(weights=PriorityWeights(qos=1000))
    # node a busy until 100; then the high-QOS job (submitted later) goes first.
    rows = [(0, 100, 8, 100, 0, 0, 0, 0, 0), (1, 10, 8, 10, 0, 0, 0, 0, 0),
            (2, 10, 8, 10, 0, 0, 0, 0, 1)]  # fmt: skip
    assert _starts(_run(rows, site, "multifactor:easy")) == [0, 110, 100]


def test_partition_tier_goes_before_priority() -> None:
    parts = (PartitionSpec("cpu", ("a",), default=True), PartitionSpec("gpu", ("b",)),
             PartitionSpec("all", ("a",), priority_tier=2))  # fmt: skip
    rows = [(0, 100, 8, 100), (1, 10, 8, 10, 0, 0), (2, 10, 8, 10, 0, 2)]
    assert _starts(_run(rows, _site(partitions=parts))) == [0, 110, 100]


def test_easy_backfill_across_shared_nodes_keeps_the_reservation() -> None:
    # "all" job 1 needs both nodes whole; it is reserved at 100 (when job 0 ends on a).
    # Job 2 (cpu, 50 s) ends before 100 and backfills on a; job 3 (cpu, 500 s) would delay
    # job 1 and waits.
    rows = [(0, 100, 8, 100, 0, 0), (0, 10, 16, 10, 0, 2, 0, 2), (0, 50, 0 + 8, 50, 0, 1),
            (0, 500, 8, 500, 0, 1)]  # fmt: skip
    starts = _starts(_run(rows, _site()))
    assert starts[0] == 0 and starts[2] == 0 and starts[1] == 100 and starts[3] == 110


def test_a_hold_is_worked_out_only_when_a_job_fits_on_its_partitions_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Job 0 fills a (cpu) until 100; job 1 (cpu) waits for a and asks for a hold. Job 2 fits
    # on b (gpu), outside cpu's nodes: it starts without job 1's hold being worked out (it
    # could not delay it). Job 3 (cpu) fits nowhere until 100, when job 1 starts first.
    calls: list[int] = []
    real = site_engine.earliest

    def counted(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(site_engine, "earliest", counted)
    rows = [(0, 100, 8, 100), (0, 10, 8, 10), (0, 10, 4, 10, 0, 1), (0, 30, 2, 30)]
    result = _run(rows, _site())
    assert _starts(result) == [0, 100, 0, 110]
    assert result.reasons[1] == result.reasons[3] == "Resources"
    assert calls == []  # job 3 never fits while job 1 waits: no hold was ever needed


def test_a_qos_without_limits_keeps_no_usage() -> None:
    site = _site(qos={"low": QosSpec("low"), "high": QosSpec("high", max_jobs_per_user=1)})
    usage = QosUsage(site, ("low", "high"))
    usage.number_pairs(2)  # pair 0: (low, user 1); pair 1: (high, user 1)
    assert usage.compiled[0] is None and usage.compiled[1] is not None
    usage.charge(0, 0, 0, (1, 4, 0, 0), 1)
    usage.charge(1, 1, 0, (1, 4, 0, 0), 1)
    assert list(usage.jobs_per_user) == [0, 1] and list(usage.per_user) == [0] * 8
    assert usage.blocked(1, 1, 0, (1, 4, 0, 0)) == "QOSMaxJobsPerUserLimit"
    assert usage.blocked(0, 0, 0, (1, 4, 0, 0)) is None


@pytest.mark.parametrize("policy", ["fcfs:easy", "sjf:easy", "fcfs:none"])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_one_partition_site_replays_a_trace_as_the_one_pool_engine(
    policy: str, seed: int
) -> None:
    machine = Machine.procs_only(128)
    jobs, _ = clean(generate(1500, seed=seed, procs=128), machine=machine)
    pool = simulate(jobs, machine, Policy.parse(policy))
    site = simulate_site(jobs, Site.one_partition(128), Policy.parse(policy))
    assert np.array_equal(pool.start_s, site.result.start_s)
    assert np.array_equal(pool.end_s, site.result.end_s)


@st.composite
def _random_case(draw: st.DrawFn) -> tuple[Site, JobTable, SiteDemand]:
    n_nodes = draw(st.integers(1, 4))
    names = [f"n{i}" for i in range(n_nodes)]
    nodes = dict.fromkeys(names, "t")
    half = names[: max(1, n_nodes // 2)]
    parts = (PartitionSpec("p0", tuple(names), default=True), PartitionSpec("p1", tuple(half)))
    start = draw(st.integers(0, 300))
    maint = Reservation("m", (names[-1],), start, start + draw(st.integers(1, 300)))
    site = Site("r", {"t": NodeType("t", cores=4, mem_mb=0, gpus=2)}, nodes, parts,
                qos={"q": QosSpec("q", max_tres_per_user={"cpu": 6, "gres/gpu": 2})},
                reservations=(maint,))  # fmt: skip
    n = draw(st.integers(1, 25))
    rows = sorted(
        (
            draw(st.integers(0, 400)),
            draw(st.integers(0, 200)),
            draw(st.integers(1, 4)),
            draw(st.integers(1, 250)),
            draw(st.integers(0, 2)),
        )
        for _ in range(n)
    )
    jobs = table(rows)
    ints = lambda lo, hi: np.array([draw(st.integers(lo, hi)) for _ in range(n)])  # noqa: E731
    demand = SiteDemand(partition=ints(0, 1), nodes=ints(0, 1), gpus=ints(0, 2),
                        mem_mb=np.zeros(n, dtype=np.int64), account=np.zeros(n, dtype=np.int64),
                        qos=ints(-1, 0), accounts=("x",), qos_names=("q",))  # fmt: skip
    return site, jobs, demand


@settings(max_examples=150, deadline=None)
@given(_random_case(), st.sampled_from(["fcfs:easy", "sjf:conservative", "multifactor:none"]))
def test_invariants_hold_on_random_sites(
    case: tuple[Site, JobTable, SiteDemand], policy: str
) -> None:
    site, jobs, demand = case
    out = simulate_site(jobs, site, Policy.parse(policy), demand)
    start, end = out.result.start_s, out.result.end_s
    events = sorted({int(t) for t in start if t >= 0})
    for t in events:
        live = [j for j in range(len(jobs)) if start[j] >= 0 and start[j] <= t < end[j]]
        for node in range(len(site.nodes)):
            held = [
                (int(p.cores[k]), int(p.gpus[k]))
                for j in live
                if (p := out.placements[j]) is not None
                for k in np.flatnonzero(p.nodes == node)
            ]
            assert sum(c for c, _ in held) <= 4 and sum(g for _, g in held) <= 2
        for user in {int(jobs.user[j]) for j in live}:
            mine = [j for j in live if jobs.user[j] == user and demand.qos[j] == 0]
            assert sum(int(jobs.procs[j]) for j in mine) <= 6
            assert sum(int(demand.gpus[j]) for j in mine) <= 2
    maint = site.reservations[0]
    last = len(site.nodes) - 1
    for j in range(len(jobs)):
        place = out.placements[j]
        if place is None:
            continue
        assert site.partitions[int(demand.partition[j])].nodes.__contains__(
            list(site.nodes)[int(place.nodes[0])]
        )
        req_end = start[j] + max(int(jobs.req_time_s[j]), 1)
        if last in place.nodes.tolist():
            assert req_end <= maint.start_s or start[j] >= maint.end_s


def test_one_node_jobs_go_where_slurm_best_fit_puts_them() -> None:
    # Four 8-core nodes; job 0 fills c (its partition has only c). Usable runs are then
    # a-b (16 cores) and d (8): job 1 goes to d, the smallest run that holds it, as
    # select/cons_tres packs, not to a, the first node.
    node = NodeType("n", cores=8, mem_mb=0)
    site = Site(
        "bf", {"n": node}, {"a": "n", "b": "n", "c": "n", "d": "n"},
        (PartitionSpec("all", ("a", "b", "c", "d"), default=True), PartitionSpec("c", ("c",)),
         PartitionSpec("x", ("a",))),
    )  # fmt: skip
    result = _run([(0, 100, 8, 100, 0, 1), (1, 10, 2, 10, 0, 0)], site)
    assert [p.nodes.tolist() for p in result.placements if p] == [[2], [3]]


def _four_nodes() -> Site:
    node = NodeType("n", cores=8, mem_mb=0)
    return Site(
        "bf", {"n": node}, dict.fromkeys(("a", "b", "c", "d"), "n"),
        (PartitionSpec("all", ("a", "b", "c", "d"), default=True), PartitionSpec("c", ("c",))),
    )  # fmt: skip


def test_within_the_best_fit_run_the_fullest_node_that_holds_the_job_is_chosen() -> None:
    # Job 0 holds 6 cores of c; every node stays usable, so a-d is one run. A 2-core job goes
    # to c (2 free, the fewest that hold it), not to a, the run's first node.
    result = _run([(0, 100, 6, 100, 0, 1), (1, 10, 2, 10, 0, 0)], _four_nodes())
    assert [p.nodes.tolist() for p in result.placements if p] == [[2], [2]]


def test_a_spreading_job_takes_the_smallest_run_even_when_a_whole_node_is_free() -> None:
    # Five 8-core nodes; job 0 fills c, splitting a-b from d-e. Jobs 1 and 2 leave 2 cores
    # on a and on b. A 4-core job then spreads 2 + 2 over a-b (4 usable, the smallest run
    # that is enough) rather than take d, which is free: as Slurm 22.05 did on the dev
    # cluster (a 16-task job over three part-used nodes; sacct's NodeList).
    node = NodeType("n", cores=8, mem_mb=0)
    names = ("a", "b", "c", "d", "e")
    site = Site(
        "bf", {"n": node}, dict.fromkeys(names, "n"),
        (PartitionSpec("all", names, default=True), PartitionSpec("c", ("c",))),
    )  # fmt: skip
    rows = [(0, 100, 8, 100, 0, 1), (1, 100, 6, 100), (2, 100, 6, 100), (3, 100, 4, 100)]
    result = _run(rows, site)
    places = [(p.nodes.tolist(), p.cores.tolist()) for p in result.placements if p]
    assert places == [([2], [8]), ([0], [6]), ([1], [6]), ([0, 1], [2, 2])]


def test_qos_limits_bind_only_where_the_site_enforces_them() -> None:
    qos = {"low": QosSpec("low", max_tres_per_user={"cpu": 4}), "high": QosSpec("high")}
    rows = [(0, 100, 4, 100, 1, 2, 0, 0, 0), (0, 100, 4, 100, 1, 2, 0, 0, 0)]
    enforced = _run(rows, _site(qos=qos))
    loose = _run(rows, _site(qos=qos, scheduling=Scheduling(enforce=("associations",))))
    assert (_starts(enforced), _starts(loose)) == ([0, 100], [0, 0])


def test_the_sites_own_policy_is_what_its_controller_runs() -> None:
    assert own_policy(_site()).name == "fcfs:conservative"  # sched/backfill, priority/basic
    builtin = _site(
        scheduling=Scheduling(scheduler="sched/builtin"), weights=PriorityWeights(age=10)
    )
    assert own_policy(builtin).name == "multifactor:none"
