"""A small two-partition site for the site what-if tests of the dashboard, the agent and the
CLI: six CPU nodes in "batch" (the default), two GPU nodes in "gpu", two QOS, two switches.
And a history as `schedsight slurm import` stores it from a cluster, long enough to train on.
"""

from __future__ import annotations

import dataclasses

from db.session import transaction
from db.sites import save_site
from db.store import Store
from db.workloads import import_workload
from hpc.site.model import NodeType, PartitionSpec, QosSpec, Site, Switch
from hpc.workload.cleaning import clean, machine_for
from hpc.workload.lublin import LublinParams, generate

CPU = tuple(f"c{i}" for i in range(6))
GPU = ("g0", "g1")


def lab_site() -> Site:
    return Site(
        name="lab",
        node_types={
            "cpu": NodeType("cpu", cores=32, mem_mb=0),
            "gpu": NodeType("gpu", cores=32, mem_mb=0, gpus=4, gpu_type="a100"),
        },
        nodes={**dict.fromkeys(CPU, "cpu"), **dict.fromkeys(GPU, "gpu")},
        partitions=(PartitionSpec("batch", CPU, default=True), PartitionSpec("gpu", GPU)),
        qos={"normal": QosSpec("normal"), "long": QosSpec("long", priority=10)},
        switches=(Switch("s0", nodes=CPU[:3]), Switch("s1", nodes=CPU[3:] + GPU)),
        source="test",
    )


def store_lab_site(url: str) -> None:
    """`lab_site()` stored as lab version 1 in the database at `url`."""
    store = Store.open(url)
    with transaction(store.sessions) as session:
        save_site(session, lab_site())
    store.engine.dispose()


def store_imported_history(store: Store, cluster: str, *, name: str = "history") -> None:
    """600 generated jobs stored as `slurm import` stores `cluster`'s accounting (a real
    cluster's own may be too short to train on), its partitions named batch and gpu."""
    trace = generate(600, seed=11, procs=128, params=LublinParams(interarrival_scale=0.5))
    trace = dataclasses.replace(trace, source=f"slurm:{cluster}:cli")
    trace.header.keys["Partitions"] = "1=batch,2=gpu"
    _, report = clean(trace, machine=machine_for(trace))
    with transaction(store.sessions) as session:
        import_workload(session, trace=trace, name=name, cleaning=report)
