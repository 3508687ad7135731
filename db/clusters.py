"""Clusters with their partitions and nodes, as read from Slurm or described for simulation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from db.errors import NotFoundError
from db.models import Cluster, Node, Partition


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    cores: int
    gpus: int = 0
    mem_mb: int | None = None
    state: str = "idle"
    partitions: tuple[str, ...] = ()


def save_cluster(
    session: Session,
    *,
    name: str,
    source: str,
    nodes: list[NodeSpec],
    partitions: dict[str, int | None],
) -> Cluster:
    """Create or replace the named cluster's description (partitions: name -> max time s)."""
    cluster = session.scalars(select(Cluster).where(Cluster.name == name)).first()
    if cluster is None:
        cluster = Cluster(name=name, source=source)
        session.add(cluster)
        session.flush()
    else:
        cluster.source = source
        session.execute(delete(Node).where(Node.cluster_id == cluster.id))
        session.execute(delete(Partition).where(Partition.cluster_id == cluster.id))
    session.add_all(
        Partition(cluster_id=cluster.id, name=p, max_time_s=t) for p, t in partitions.items()
    )
    session.add_all(
        Node(
            cluster_id=cluster.id,
            name=n.name,
            cores=n.cores,
            gpus=n.gpus,
            mem_mb=n.mem_mb,
            state=n.state,
            partitions=list(n.partitions),
        )
        for n in nodes
    )
    session.flush()
    session.expire(cluster)
    return cluster


def get_cluster(session: Session, *, name: str) -> Cluster:
    stmt = (
        select(Cluster)
        .where(Cluster.name == name)
        .options(selectinload(Cluster.nodes), selectinload(Cluster.partitions))
    )
    cluster = session.scalars(stmt).first()
    if cluster is None:
        raise NotFoundError("cluster", name)
    return cluster
