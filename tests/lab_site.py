"""A small two-partition site for the site what-if tests of the dashboard, the agent and the
CLI: six CPU nodes in "batch" (the default), two GPU nodes in "gpu", two QOS, two switches."""

from __future__ import annotations

from db.session import transaction
from db.sites import save_site
from db.store import Store
from hpc.site.model import NodeType, PartitionSpec, QosSpec, Site, Switch

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
