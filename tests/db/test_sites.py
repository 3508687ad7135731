"""Versioned sites: a new version only when the site changed, exact load-back (node order
included, on PostgreSQL too), and a missing name or version that says what there is."""

from __future__ import annotations

import dataclasses

import pytest

from db.errors import NotFoundError
from db.session import transaction
from db.sites import list_sites, load_site, save_site
from hpc.site.model import (
    Association,
    NodeType,
    PartitionSpec,
    PriorityWeights,
    QosSpec,
    Reservation,
    Site,
    Switch,
)
from schedsight.storage import Store


def _site(name: str = "big", *, max_time_s: int = 2 * 86400) -> Site:
    gpu = NodeType("c16-m64000-a100x4", cores=16, mem_mb=64000, gpus=4, gpu_type="a100")
    cpu = NodeType("c64-m256000-ib", cores=64, mem_mb=256000, features=("ib",))
    nodes = {"n10": gpu.name, "n2": gpu.name, "c1": cpu.name, "a9": cpu.name}  # not sorted
    return Site(
        name=name,
        node_types={gpu.name: gpu, cpu.name: cpu},
        nodes=nodes,
        partitions=(
            PartitionSpec("batch", tuple(nodes), max_time_s=max_time_s, default=True),
            PartitionSpec("gpu", ("n10", "n2"), priority_tier=2, allow_qos=("long",)),
        ),
        qos={"long": QosSpec("long", 100, 7 * 86400, {"cpu": 256, "gres/gpu": 8})},
        associations=(
            Association("physics", shares=40, raw_usage=7200.0, norm_shares=0.4),
            Association("physics", "alice", raw_usage=7200.0, norm_shares=0.4),
            Association("theory", "bob"),  # sshare did not list it: usage unknown
        ),
        reservations=(Reservation("maint", ("n2",), 1_900_000_000, 1_900_003_600, True),),
        weights=PriorityWeights(age=1000, fairshare=10000, tres={"gres/gpu": 3000}),
        switches=(Switch("s0", nodes=("n10", "n2")), Switch("top", switches=("s0",))),
        release="24.11.5",
        source="slurm:big:cli",
    )


def test_save_then_load_gives_back_the_same_site(store: Store) -> None:
    site = _site()
    with transaction(store.sessions) as session:
        saved = save_site(session, site)
    assert (saved.version, saved.created) == (1, True)
    with transaction(store.sessions) as session:
        back = load_site(session, "big")
    assert back == site
    assert list(back.nodes) == ["n10", "n2", "c1", "a9"]  # Slurm's order, not sorted


def test_fair_share_usage_round_trips_and_older_sites_load_without_it(store: Store) -> None:
    site = _site()
    with transaction(store.sessions) as session:
        save_site(session, site)
        older = dataclasses.replace(site, name="old").to_json()
        for row in older["associations"]:  # as stored before sshare was read
            del row["raw_usage"], row["norm_shares"]
        back = load_site(session, "big")
    alice = back.associations[1]
    assert (alice.user, alice.raw_usage, alice.norm_shares) == ("alice", 7200.0, 0.4)
    assert back.associations[2].raw_usage is None
    old = Site.from_json(older)
    assert all(a.raw_usage is None and a.norm_shares is None for a in old.associations)


def test_the_same_site_again_is_the_same_version(store: Store) -> None:
    with transaction(store.sessions) as session:
        first = save_site(session, _site())
    with transaction(store.sessions) as session:
        again = save_site(session, _site())
    assert again == first._replace(created=False)


def test_a_changed_site_is_a_new_version_and_the_old_one_stays(store: Store) -> None:
    with transaction(store.sessions) as session:
        save_site(session, _site())
        save_site(session, _site("other"))
    changed = _site(max_time_s=86400)
    with transaction(store.sessions) as session:
        saved = save_site(session, changed)
    assert (saved.version, saved.created) == (2, True)
    with transaction(store.sessions) as session:
        assert load_site(session, "big") == changed
        assert load_site(session, "big", version=1) == _site()
        listed = list_sites(session)
    assert [(s.name, s.version, s.versions) for s in listed] == [("big", 2, 2), ("other", 1, 1)]
    assert listed[0].release == "24.11.5" and listed[0].source == "slurm:big:cli"


def test_going_back_to_an_older_site_is_a_new_version(store: Store) -> None:
    for site in (_site(), _site(max_time_s=3600), _site()):
        with transaction(store.sessions) as session:
            saved = save_site(session, site)
    assert saved.version == 3


def test_an_unknown_name_lists_the_stored_ones(store: Store) -> None:
    with transaction(store.sessions) as session:
        save_site(session, _site())
        save_site(session, dataclasses.replace(_site(), name="small"))
    with (
        transaction(store.sessions) as session,
        pytest.raises(NotFoundError, match=r"no site named 'huge' .*stored: big, small.*import"),
    ):
        load_site(session, "huge")


def test_an_unknown_version_says_which_there_are(store: Store) -> None:
    with transaction(store.sessions) as session:
        save_site(session, _site())
        save_site(session, _site(max_time_s=60))
    with (
        transaction(store.sessions) as session,
        pytest.raises(NotFoundError, match=r"site 'big' has no version 7 \(it has 1 to 2\)"),
    ):
        load_site(session, "big", version=7)


def test_nothing_stored_yet(store: Store) -> None:
    with transaction(store.sessions) as session:
        assert list_sites(session) == []
        with pytest.raises(NotFoundError, match="stored: none yet"):
            load_site(session, "big")
