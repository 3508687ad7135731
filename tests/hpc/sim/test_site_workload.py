"""The generated multi-partition workload: seeded, every job able to run somewhere, GPUs only
on the GPU partition, and a replay on its site that starts every job within the nodes."""

from __future__ import annotations

import numpy as np

from hpc.sim import Policy
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_workload import generated_workload


def test_the_same_seed_gives_the_same_workload() -> None:
    _, a, da = generated_workload(300, seed=4)
    _, b, db = generated_workload(300, seed=4)
    assert np.array_equal(a.submit_s, b.submit_s) and np.array_equal(a.procs, b.procs)
    assert np.array_equal(da.partition, db.partition) and np.array_equal(da.gpus, db.gpus)


def test_jobs_spread_over_partitions_with_gpus_only_on_the_gpu_partition() -> None:
    site, jobs, demand = generated_workload(2000, seed=2)
    gpu = [p.name for p in site.partitions].index("gpu")
    assert set(demand.partition.tolist()) == {0, 1, 2}
    assert (demand.gpus[demand.partition == gpu] > 0).all()
    assert (demand.gpus[demand.partition != gpu] == 0).all()
    assert (jobs.procs[demand.qos == 1] <= 128).all()


def test_every_job_starts_and_no_node_is_overcommitted() -> None:
    site, jobs, demand = generated_workload(1500, seed=3)
    out = simulate_site(jobs, site, Policy.parse("fcfs:easy"), demand)
    start, end = out.result.start_s, out.result.end_s
    assert (start >= 0).all()
    cores = [site.node_type(n).cores for n in site.nodes]
    for t in np.unique(start)[::25].tolist():
        used = np.zeros(len(cores), dtype=np.int64)
        for j in np.flatnonzero((start <= t) & (t < end)).tolist():
            place = out.placements[j]
            assert place is not None
            used[place.nodes] += place.cores
        assert (used <= np.array(cores)).all()
