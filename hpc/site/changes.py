"""What-ifs as changes to a site, in one small grammar (`schedsight simulate --site NAME
--change "..."`, repeatable, applied in order). Each change gives a new `Site`:

    add N nodes [of TYPE] [to PARTITION]        new nodes (default: the partition's type)
    remove N nodes [from PARTITION]             the partition's last N nodes leave the site
    move N nodes from PARTITION to PARTITION    the first partition's last N nodes move
    qos NAME KEY=VALUE                          Priority, MaxWall (minutes or D-HH:MM:SS),
                                                MaxTRESPU, MaxTRESPA, GrpTRES (cpu=256,...),
                                                MaxJobsPU; a new QOS if NAME is new
    weight KEY=VALUE                            age, fairshare, job_size, partition, qos
    reserve NODES|PARTITION from T for D        maintenance over [T, T + D); NODES a host list
    fail switch NAME [at T]                     its subtree's nodes, from T (default 0) on

Times T and durations D are seconds, or with a unit (30m, 4h, 2d), from the trace's start.
A failed switch's nodes take no new job from T; jobs already running there finish.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from hpc.errors import SiteError
from hpc.site.model import PartitionSpec, PriorityWeights, QosSpec, Reservation, Site
from hpc.site.topology import nodes_below

FOREVER = 1 << 62
GRAMMAR = (
    "add N nodes [of TYPE] [to PARTITION] | remove N nodes [from PARTITION] | "
    "move N nodes from P to P | qos NAME KEY=VALUE | weight KEY=VALUE | "
    "reserve NODES|PARTITION from T for D | fail switch NAME [at T]"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WEIGHTS = ("age", "fairshare", "job_size", "partition", "qos")


@dataclass(frozen=True, slots=True)
class SiteChange:
    """One parsed change: its words, kept for messages and reports, and how to apply it."""

    text: str

    def apply(self, site: Site) -> Site:
        return _apply(self.text, site)


def parse_change(text: str) -> SiteChange:
    """A change from its words; checked against a site only when applied."""
    words = text.split()
    if not words or words[0].lower() not in _VERBS:
        raise SiteError(f"cannot read site change {text!r}: expected {GRAMMAR}")
    return SiteChange(" ".join(words))


def apply_changes(site: Site, changes: list[SiteChange]) -> Site:
    for change in changes:
        site = change.apply(site)
    return site


def seconds(text: str) -> int:
    """`90`, `30m`, `4h`, `2d` in seconds."""
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip().lower())
    if match is None:
        raise SiteError(f"{text!r} is not a time: give seconds or N with s, m, h or d")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def _apply(text: str, site: Site) -> Site:
    words = text.split()
    verb = words[0].lower()
    try:
        return _VERBS[verb](site, words)
    except (IndexError, ValueError):
        raise SiteError(f"cannot read site change {text!r}: expected {GRAMMAR}") from None


def _option(words: list[str], key: str) -> str | None:
    lowered = [w.lower() for w in words]
    return words[lowered.index(key) + 1] if key in lowered else None


def _count(words: list[str]) -> int:
    if len(words) < 3 or words[2].lower() not in ("node", "nodes") or not words[1].isdigit():
        raise ValueError
    return int(words[1])


def _with_partition(site: Site, name: str, nodes: tuple[str, ...]) -> tuple[PartitionSpec, ...]:
    site.partition(name)  # an error naming the partitions if there is no such one
    return tuple(dataclasses.replace(p, nodes=nodes) if p.name == name else p
                 for p in site.partitions)  # fmt: skip


def _add(site: Site, words: list[str]) -> Site:
    n = _count(words)
    part = site.partition(_option(words, "to"))
    kind = _option(words, "of") or (site.nodes[part.nodes[0]] if part.nodes else "")
    if kind not in site.node_types:
        raise SiteError(f"site {site.name!r} has no node type {kind!r} "
                        f"(types: {', '.join(site.node_types)})")  # fmt: skip
    new = tuple(f"{part.name}-new{i}" for i in range(1, n + 1))
    nodes = {**site.nodes, **dict.fromkeys(new, kind)}
    partitions = _with_partition(site, part.name, part.nodes + new)
    return dataclasses.replace(site, nodes=nodes, partitions=partitions)


def _remove(site: Site, words: list[str]) -> Site:
    n = _count(words)
    part = site.partition(_option(words, "from"))
    if n > len(part.nodes):
        raise SiteError(f"partition {part.name} has {len(part.nodes)} nodes, not {n} to remove")
    gone = set(part.nodes[len(part.nodes) - n :])
    nodes = {k: v for k, v in site.nodes.items() if k not in gone}
    partitions = tuple(dataclasses.replace(p, nodes=tuple(x for x in p.nodes if x not in gone))
                       for p in site.partitions)  # fmt: skip
    return dataclasses.replace(site, nodes=nodes, partitions=partitions)


def _move(site: Site, words: list[str]) -> Site:
    n = _count(words)
    source, target = site.partition(_option(words, "from")), site.partition(_option(words, "to"))
    if n > len(source.nodes):
        raise SiteError(f"partition {source.name} has {len(source.nodes)} nodes, not {n}")
    moving = source.nodes[len(source.nodes) - n :]
    site = dataclasses.replace(
        site, partitions=_with_partition(site, source.name, source.nodes[: len(source.nodes) - n])
    )
    keep = tuple(x for x in target.nodes if x not in moving) + moving
    return dataclasses.replace(site, partitions=_with_partition(site, target.name, keep))


def _tres(text: str) -> dict[str, int]:
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        out[key.strip()] = int(value)
    return out


def _qos(site: Site, words: list[str]) -> Site:
    name, setting = words[1], " ".join(words[2:])
    key, _, value = setting.partition("=")
    spec = site.qos.get(name, QosSpec(name))
    key = key.strip().lower()
    if key == "priority":
        spec = dataclasses.replace(spec, priority=int(value))
    elif key == "maxwall":
        spec = dataclasses.replace(spec, max_wall_s=_minutes_or_clock(value))
    elif key == "maxjobspu":
        spec = dataclasses.replace(spec, max_jobs_per_user=int(value))
    elif key in ("maxtrespu", "maxtrespa", "grptres"):
        field = {"maxtrespu": "max_tres_per_user", "maxtrespa": "max_tres_per_account",
                 "grptres": "grp_tres"}[key]  # fmt: skip
        limits: dict[str, Any] = {field: _tres(value)}
        spec = dataclasses.replace(spec, **limits)
    else:
        raise SiteError(f"qos {name}: {key!r} is not one of Priority, MaxWall, MaxTRESPU, "
                        "MaxTRESPA, GrpTRES, MaxJobsPU")  # fmt: skip
    return dataclasses.replace(site, qos={**site.qos, name: spec})


def _minutes_or_clock(text: str) -> int:
    if text.isdigit():
        return int(text) * 60
    days, _, clock = text.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return (int(days or 0) * 24 + h) * 3600 + m * 60 + s


def _weight(site: Site, words: list[str]) -> Site:
    key, _, value = words[1].partition("=")
    if key not in _WEIGHTS:
        raise SiteError(f"weight {key!r}: choose one of {', '.join(_WEIGHTS)}")
    change: dict[str, Any] = {key: int(value)}
    weights: PriorityWeights = dataclasses.replace(site.weights, **change)
    return dataclasses.replace(site, weights=weights)


def _reserve(site: Site, words: list[str]) -> Site:
    target = words[1]
    start = seconds(_option(words, "from") or "")
    length = seconds(_option(words, "for") or "")
    names = {p.name for p in site.partitions}
    if target in names:
        nodes = site.partition(target).nodes
    else:
        import hostlist

        try:
            nodes = tuple(hostlist.expand_hostlist(target))
        except hostlist.BadHostlist as exc:
            raise SiteError(f"reserve {target}: not a partition or host list ({exc})") from None
        unknown = [n for n in nodes if n not in site.nodes]
        if unknown:
            raise SiteError(f"reserve {target}: no such nodes or partition ({unknown[:3]})")
    name = f"whatif-{len(site.reservations) + 1}"
    reservation = Reservation(name, nodes, start, start + length, maintenance=True)
    return dataclasses.replace(site, reservations=(*site.reservations, reservation))


def _fail(site: Site, words: list[str]) -> Site:
    if words[1].lower() != "switch":
        raise ValueError
    nodes = nodes_below(site, words[2])
    start = seconds(_option(words, "at") or "0")
    name = f"failed-{words[2]}"
    reservation = Reservation(name, nodes, start, FOREVER, maintenance=True)
    return dataclasses.replace(site, reservations=(*site.reservations, reservation))


_VERBS = {"add": _add, "remove": _remove, "move": _move, "qos": _qos, "weight": _weight,
          "reserve": _reserve, "fail": _fail}  # fmt: skip
