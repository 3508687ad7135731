"""A generated multi-partition workload for the site replay: a small seeded site and jobs
for it, to benchmark and test `hpc.sim.site_engine` beyond one-partition SWF traces.

The site has three node types (CPU, GPU, large-memory) and three partitions: "batch" on the
CPU and large-memory nodes (default), "gpu" on the GPU nodes, "fat" on the large-memory
nodes (shared with batch). Two QOS, "normal" and "high" (higher priority, jobs of up to 128 cores),
each limit the cores one user holds at once to what its largest job needs. Jobs come from
the Lublin-Feitelson model for 256 processors, submitted `compress` times faster so the site
is busy, then spread over the partitions: GPU jobs ask for 1-4 GPUs per node they need, fat
jobs for much memory per core.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hpc.model import JobTable, Machine
from hpc.sim.site_jobs import SiteDemand
from hpc.site.model import NodeType, PartitionSpec, QosSpec, Site, Switch

CORES_PER_NODE = 32
PARTITION_SHARES = (0.75, 0.15, 0.10)  # batch, gpu, fat
HIGH_QOS_SHARE = 0.1


def generated_site(*, switched: bool = False) -> Site:
    """8 CPU nodes, 4 GPU nodes (4 GPUs each), 2 large-memory nodes; 3 partitions, 2 QOS.
    `switched`: under one top switch, four leaf switches of four CPU, four CPU, four GPU
    and the two large-memory nodes (the topology-aware placement's workload)."""
    types = {
        "cpu": NodeType("cpu", cores=CORES_PER_NODE, mem_mb=192_000),
        "gpu": NodeType("gpu", cores=CORES_PER_NODE, mem_mb=384_000, gpus=4, gpu_type="a100"),
        "fat": NodeType("fat", cores=2 * CORES_PER_NODE, mem_mb=1_024_000),
    }
    cpu = tuple(f"cpu{i:02d}" for i in range(8))
    gpu = tuple(f"gpu{i:02d}" for i in range(4))
    fat = tuple(f"fat{i:02d}" for i in range(2))
    nodes = {n: t for names, t in ((cpu, "cpu"), (gpu, "gpu"), (fat, "fat")) for n in names}
    leaves = [Switch(f"leaf{i}", nodes=group)
              for i, group in enumerate((cpu[:4], cpu[4:], gpu, fat))]  # fmt: skip
    switches = (*leaves, Switch("top", switches=tuple(s.name for s in leaves)))
    return Site(
        name="generated",
        node_types=types,
        nodes=nodes,
        partitions=(
            PartitionSpec("batch", cpu + fat, default=True),
            PartitionSpec("gpu", gpu),
            PartitionSpec("fat", fat),
        ),
        qos={
            "normal": QosSpec("normal", max_tres_per_user={"cpu": 256}),
            "high": QosSpec("high", priority=100, max_tres_per_user={"cpu": 128}),
        },
        switches=switches if switched else (),
        source="generated",
    )


def generated_workload(
    n_jobs: int, *, seed: int, compress: float = 2.0, switched: bool = False
) -> tuple[Site, JobTable, SiteDemand]:
    """`n_jobs` seeded jobs on `generated_site(switched=...)`, with their partition, GPU,
    memory and QOS."""
    from hpc.workload.cleaning import clean
    from hpc.workload.lublin import generate

    site = generated_site(switched=switched)
    jobs, _ = clean(generate(n_jobs, seed=seed, procs=256), machine=Machine.procs_only(256))
    rng = np.random.Generator(np.random.PCG64(seed + 1))
    n = len(jobs)
    partition = rng.choice(len(PARTITION_SHARES), size=n, p=PARTITION_SHARES)
    gpu_cores = 4 * CORES_PER_NODE
    procs = np.where(partition == 0, jobs.procs, np.minimum(jobs.procs, gpu_cores))
    nodes_needed = -(-procs // CORES_PER_NODE)
    gpus = np.where(partition == 1, rng.integers(1, 5, size=n) * nodes_needed, 0)
    per_core_mb = np.select([partition == 2, partition == 1], [12_000, 4_000], 2_000)
    qos = ((rng.random(n) < HIGH_QOS_SHARE) & (procs <= 128)).astype(np.int64)
    submit = np.floor(jobs.submit_s / compress).astype(np.int64)
    jobs = replace(jobs, submit_s=submit, procs=procs.astype(np.int64))
    demand = SiteDemand(
        partition=partition.astype(np.int64),
        nodes=np.zeros(n, dtype=np.int64),
        gpus=gpus.astype(np.int64),
        mem_mb=(procs * per_core_mb).astype(np.int64),
        account=(jobs.user % 4).astype(np.int64),
        qos=qos,
        accounts=("a0", "a1", "a2", "a3"),
        qos_names=("normal", "high"),
    )
    return site, jobs, demand
