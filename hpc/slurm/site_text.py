"""Slurm's text output read into site values (`hpc.site.model`): `scontrol show config`,
`scontrol -o show node|partition|reservation`, `scontrol show topology` and `sacctmgr -P -n`.

Text, not `--json`: it reads the same on 22.05, 24.11 and 26.05, and only it has the
partitions' default flag and priority tiers on every release. Pure functions of the text,
so each is tested on literal output; `hpc.slurm.site_reader` runs the commands.
"""

from __future__ import annotations

import re
from datetime import datetime

from hpc.site.model import (
    Association,
    BackfillParams,
    NodeType,
    PartitionSpec,
    PriorityWeights,
    QosSpec,
    Reservation,
    Scheduling,
    Switch,
)
from hpc.slurm.cli_backend import parse_duration_s
from hpc.slurm.errors import SlurmDataError
from hpc.slurm.hostlist import expand_hostlist

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}  # -> MB
_NULL = ("", "(null)", "N/A")
QOS_FORMAT = "Name,Priority,MaxWall,MaxTRESPU,MaxTRESPA,GrpTRES,MaxJobsPU"
ASSOC_FORMAT = "Account,User,ParentName,Share,QOS,DefaultQOS"


# ---------------------------------------------------------------- fields and values
def scontrol_fields(line: str) -> dict[str, str]:
    """One `scontrol -o` record as Key -> value. A value may hold spaces (`OS=Linux 6.1 #1
    SMP`, `Reason=Not responding`): a word without `Key=` belongs to the value before it."""
    fields: dict[str, str] = {}
    key: str | None = None
    for word in line.split():
        name, eq, value = word.partition("=")
        if eq and _KEY.fullmatch(name):
            key = name
            fields[key] = value
        elif key is not None:
            fields[key] += " " + word
    return fields


def parse_config(text: str) -> dict[str, str]:
    """`scontrol show config`: `Key = value` lines (the first of a repeated key wins)."""
    config: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        key = key.strip()
        if eq and _KEY.fullmatch(key) and key not in config:
            config[key] = value.strip()
    return config


def _names(value: str) -> tuple[str, ...]:
    """A comma-separated list; Slurm's empty spellings give ()."""
    return () if value in _NULL else tuple(v for v in value.split(",") if v)


def _hosts(value: str) -> tuple[str, ...]:
    return () if value in _NULL else tuple(expand_hostlist(value))


def _count(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SlurmDataError(f"{what}: {value!r} is not a whole number") from None


def parse_tres(text: str) -> dict[str, int]:
    """A TRES list (`cpu=256,gres/gpu=8,mem=64G`) -> {"cpu": 256, "gres/gpu": 8, "mem": 65536}.
    Types are lower-cased before any `/` (PriorityWeightTRES writes `CPU=`, `GRES/gpu=`);
    memory is in MB whatever unit Slurm printed."""
    tres: dict[str, int] = {}
    for item in _names(text):
        key, eq, value = item.partition("=")
        kind, slash, name = key.partition("/")
        key = kind.lower() + slash + name
        if not eq or not key:
            raise SlurmDataError(f"TRES {text!r}: {item!r} is not TYPE=COUNT")
        unit = value[-1:].upper()
        try:
            if key == "mem" and unit in _MEM_UNITS:
                tres[key] = round(float(value[:-1]) * _MEM_UNITS[unit])
            else:
                tres[key] = round(float(value))
        except ValueError:
            raise SlurmDataError(f"TRES {text!r}: {item!r} has no number") from None
    return tres


def parse_gres(text: str) -> tuple[int, str | None]:
    """A node's Gres -> (GPUs, GPU type): `gpu:a100:4(S:0-1)` -> (4, "a100"), `gpu:2` ->
    (2, None), `(null)` -> (0, None). Several GPU types give "a100+v100"; other GRES
    (shard, mps) are not GPUs."""
    total, types = 0, []
    for item in _names(re.sub(r"\([^)]*\)", "", text)):  # (S:0,1) would split on its comma
        parts = item.split(":")
        if parts[0] != "gpu":
            continue
        total += _count(parts[-1], f"Gres {text!r}") if len(parts) > 1 else 1
        kind = parts[1] if len(parts) > 2 else None
        if kind and kind != "no_consume" and kind not in types:
            types.append(kind)
    return total, "+".join(sorted(types)) or None


# ---------------------------------------------------------------- scontrol show config
def parse_weights(config: dict[str, str]) -> PriorityWeights:
    """priority/multifactor's weights; any other priority plugin orders by submit time, so
    its weights are all 0 whatever the configuration says."""
    multifactor = config.get("PriorityType") == "priority/multifactor"

    def weight(key: str) -> int:
        value = config.get(f"PriorityWeight{key}", "0")
        return _count(value, f"PriorityWeight{key}") if multifactor and value not in _NULL else 0

    defaults = PriorityWeights()
    return PriorityWeights(
        age=weight("Age"),
        fairshare=weight("FairShare"),
        job_size=weight("JobSize"),
        partition=weight("Partition"),
        qos=weight("QOS"),
        tres=parse_tres(config.get("PriorityWeightTRES", "")) if multifactor else {},
        max_age_s=_duration(config, "PriorityMaxAge", defaults.max_age_s),
        decay_half_life_s=_duration(config, "PriorityDecayHalfLife", defaults.decay_half_life_s),
        favor_small=config.get("PriorityFavorSmall", "no").lower() in ("yes", "1"),
    )


def _duration(config: dict[str, str], key: str, default: int) -> int:
    value = config.get(key, "")
    return default if value in _NULL else parse_duration_s(value) or 0


def parse_backfill(scheduler_parameters: str) -> BackfillParams:
    """SchedulerParameters (`bf_window=2880,bf_continue,...`) -> the backfill parameters;
    bf_window is in minutes, the others in seconds or jobs. Absent ones keep Slurm's defaults."""
    given = dict(item.partition("=")[::2] for item in _names(scheduler_parameters))
    defaults = BackfillParams()

    def value(key: str, default: int, scale: int = 1) -> int:
        return _count(given[key], key) * scale if given.get(key) else default

    return BackfillParams(
        window_s=value("bf_window", defaults.window_s, scale=60),
        resolution_s=value("bf_resolution", defaults.resolution_s),
        max_job_test=value("bf_max_job_test", defaults.max_job_test),
        interval_s=value("bf_interval", defaults.interval_s),
    )


def parse_scheduling(config: dict[str, str]) -> Scheduling:
    """SchedulerType and AccountingStorageEnforce (`associations,limits,qos`; `none` or
    absent: nothing enforced) from `scontrol show config`."""
    enforce = config.get("AccountingStorageEnforce", "")
    return Scheduling(
        scheduler=config.get("SchedulerType") or Scheduling().scheduler,
        enforce=tuple(sorted({f.strip().lower() for f in _names(enforce)} - {"none"})),
    )


# ---------------------------------------------------------------- scontrol -o show ...
def parse_nodes(text: str) -> dict[str, NodeType]:
    """`scontrol -o show node` -> node name -> its type, in Slurm's order. Nodes with the same
    cores, memory, GPUs and features share one type, named after them (`c16-m64000-a100x4`)."""
    nodes: dict[str, NodeType] = {}
    for line in text.splitlines():
        f = scontrol_fields(line)
        if "NodeName" not in f:
            continue
        where = f"node {f['NodeName']}"
        gpus, gpu_type = parse_gres(f.get("Gres", ""))
        features = tuple(sorted(_names(f.get("AvailableFeatures") or f.get("ActiveFeatures", ""))))
        cores = _count(f.get("CPUTot", ""), f"{where}: CPUTot")
        mem_mb = _count(f.get("RealMemory", "0"), f"{where}: RealMemory")
        name = f"c{cores}-m{mem_mb}"
        if gpus:
            name += f"-{gpu_type or 'gpu'}x{gpus}"
        if features:
            name += "-" + "+".join(features)
        nodes[f["NodeName"]] = NodeType(name, cores, mem_mb, gpus, gpu_type, features)
    return nodes


def parse_partition_specs(text: str, all_nodes: tuple[str, ...]) -> tuple[PartitionSpec, ...]:
    """`scontrol -o show partition` -> partitions with their tiers, job factors and QOS."""
    specs = []
    for line in text.splitlines():
        f = scontrol_fields(line)
        if "PartitionName" not in f:
            continue
        where = f"partition {f['PartitionName']}"
        nodes = f.get("Nodes", "")
        allow_qos = f.get("AllowQos", "ALL")
        specs.append(
            PartitionSpec(
                name=f["PartitionName"],
                nodes=all_nodes if nodes == "ALL" else _hosts(nodes),
                max_time_s=parse_duration_s(f.get("MaxTime", "UNLIMITED")),
                priority_tier=_count(f.get("PriorityTier", "1"), f"{where}: PriorityTier"),
                priority_job_factor=_count(
                    f.get("PriorityJobFactor", "1"), f"{where}: PriorityJobFactor"
                ),
                default=f.get("Default") == "YES",
                allow_qos=() if allow_qos == "ALL" else _names(allow_qos),
                state=f.get("State", "UP"),
            )
        )
    return tuple(specs)


def parse_reservations(text: str) -> tuple[Reservation, ...]:
    """`scontrol -o show reservation` (times are local, as scontrol prints them); a MAINT
    flag marks a maintenance window. "No reservations in the system" gives ()."""
    found = []
    for line in text.splitlines():
        f = scontrol_fields(line)
        if "ReservationName" not in f:
            continue
        try:
            start_s, end_s = (
                int(datetime.fromisoformat(f[k]).timestamp()) for k in ("StartTime", "EndTime")
            )
        except (KeyError, ValueError) as exc:
            raise SlurmDataError(f"reservation {f['ReservationName']}: no time ({exc})") from None
        found.append(
            Reservation(
                name=f["ReservationName"],
                nodes=_hosts(f.get("Nodes", "")),
                start_s=start_s,
                end_s=end_s,
                maintenance="MAINT" in _names(f.get("Flags", "")),
            )
        )
    return tuple(found)


def parse_switches(text: str) -> tuple[Switch, ...]:
    """`scontrol show topology` (topology/tree) -> switches, as topology.conf has them: a
    switch above others lists its child switches and no nodes of its own (scontrol names
    every node below it). No topology plugin prints nothing, or an error: ()."""
    switches = []
    for line in text.splitlines():
        f = scontrol_fields(line)
        if "SwitchName" not in f:
            continue
        children = _hosts(f.get("Switches", ""))
        nodes = () if children else _hosts(f.get("Nodes", ""))
        switches.append(Switch(f["SwitchName"], children, nodes))
    return tuple(switches)


# ---------------------------------------------------------------- sacctmgr -P -n
def _rows(text: str, columns: str) -> list[list[str]]:
    width = columns.count(",") + 1
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = line.split("|")
        if len(row) != width:
            raise SlurmDataError(f"sacctmgr printed {line!r}, not the columns {columns}")
        rows.append(row)
    return rows


def parse_qos(text: str) -> dict[str, QosSpec]:
    """`sacctmgr -P -n show qos format=QOS_FORMAT` -> QOS by name."""
    qos = {}
    for name, priority, max_wall, per_user, per_account, grp, jobs_per_user in _rows(
        text, QOS_FORMAT
    ):
        qos[name] = QosSpec(
            name=name,
            priority=_count(priority or "0", f"QOS {name}: Priority"),
            max_wall_s=parse_duration_s(max_wall),
            max_tres_per_user=parse_tres(per_user),
            max_tres_per_account=parse_tres(per_account),
            grp_tres=parse_tres(grp),
            max_jobs_per_user=_count(jobs_per_user, f"QOS {name}: MaxJobsPU")
            if jobs_per_user
            else None,
        )
    return qos


def parse_associations(text: str) -> tuple[Association, ...]:
    """`sacctmgr -P -n show assoc format=ASSOC_FORMAT` -> the fair-share tree below root.

    Root itself is the tree's top, not a node of it: its account row is left out and its
    children get parent None. A user row's place is its account. Fairshare=parent (Share
    "parent": the user competes as its account) has no marker in the model: one share."""
    tree = []
    for account, user, parent, share, qos, default_qos in _rows(text, ASSOC_FORMAT):
        if account == "root" and not user:
            continue
        tree.append(
            Association(
                account=account,
                user=user or None,
                parent=None if parent in ("", "root") else parent,
                shares=1 if share in ("", "parent") else _count(share, f"account {account}"),
                qos=_names(qos),
                default_qos=default_qos or None,
            )
        )
    return tuple(tree)
