"""What every Slurm JSON dialect shares: number objects, states, TRES and GRES strings, meta.

Each adapter (`json_v0038`, `json_v0039`) reads its own document shapes with these helpers,
so that a value is decoded the same way whichever release wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hpc.slurm.errors import SlurmCommandError, SlurmDataError

Json = Mapping[str, Any]
_GPU_TRES = re.compile(r"gres[:/]gpu(?::[^:=,]+)?[:=](\d+)")
_DATA_VERSION = re.compile(r"v0\.0\.(\d+)")


def release(doc: Json) -> str:
    """The Slurm release that wrote `doc` ("22.05.8"): `meta.Slurm` up to 23.02, then
    `meta.slurm`."""
    meta = doc.get("meta") or {}
    found = (meta.get("slurm") or meta.get("Slurm") or {}).get("release")
    if not found:
        raise SlurmDataError("Slurm JSON without meta.slurm.release (or meta.Slurm.release)")
    return str(found)


def data_version(doc: Json) -> str | None:
    """The data version a document declares ("v0.0.42"): `meta.plugin.data_parser` from
    23.02, `meta.plugin.type` ("openapi/v0.0.38", "openapi/dbv0.0.38") before."""
    meta = doc.get("meta") or {}
    plugin = meta.get("plugin") or meta.get("plugins") or {}  # "plugins": 23.02's CLI
    for field in ("data_parser", "type"):
        match = _DATA_VERSION.search(str(plugin.get(field) or ""))
        if match:
            return match.group(0)
    return None


def version_key(version: str) -> int:
    """Sort key of a data version: "v0.0.42" -> 42 (0 when it is not one)."""
    match = _DATA_VERSION.search(version)
    return int(match.group(1)) if match else 0


# Slurm's ESLURM_REST_EMPTY_RESULT: 22.05's sacct --json and slurmdbd REST report a query that
# matched no job as this error, with an empty "jobs" list beside it.
EMPTY_RESULT = 9003


def errors_of(doc: Json, *, empty_ok: bool = False) -> list[Any]:
    """The errors a document carries; `empty_ok`: a query that matched nothing
    (EMPTY_RESULT) is an empty answer, not an error."""
    errors = [e for e in doc.get("errors") or [] if e]
    return [e for e in errors if not _empty_result(e)] if empty_ok else errors


def check_errors(doc: Json, what: str, *, empty_ok: bool = False) -> None:
    """Raise SlurmCommandError for the errors a document carries (see `errors_of`)."""
    errors = errors_of(doc, empty_ok=empty_ok)
    if errors:
        raise SlurmCommandError(what, error_text(errors))


def error_text(errors: list[Any]) -> str:
    """A document's errors (`errors_of`) in one line."""
    return "; ".join(str(e.get("error") or e.get("description") or e) for e in errors)


def _empty_result(error: Any) -> bool:
    if not isinstance(error, Mapping):
        return False
    return error.get("error_number") == EMPTY_RESULT or str(error.get("error")).startswith(
        "Nothing found"
    )


def num(value: Any) -> int | None:
    """An integer field; None for null, unset or infinite (also reads 23.02+ number objects)."""
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if value is None or isinstance(value, bool):
        return None
    return int(value)


NO_VAL = 0xFFFFFFFE  # Slurm's "no value" for 32-bit fields (INFINITE is 0xFFFFFFFF)


def epoch(value: Any) -> int | None:
    """A time in seconds since the epoch; None for unset, for Slurm's 0 ("not yet") and for
    NO_VAL/INFINITE written as numbers (26.05's sacct: a job cancelled while pending
    "started" at 4294967294)."""
    t = num(value)
    return t if t and 0 < t < NO_VAL else None


def minutes(value: Any) -> int | None:
    """A limit Slurm gives in minutes, in seconds; None for unlimited."""
    m = num(value)
    return None if m is None else m * 60


def read_state(value: Any) -> str:
    """A job state: a string up to 23.02's squeue, then a list of flags, base state first."""
    if isinstance(value, list):
        return str(value[0]).upper() if value else "UNKNOWN"
    return str(value or "UNKNOWN").upper()


def gpu_count(tres: str | None) -> int:
    """GPUs in a TRES string ('gres:gpu:2', 'gres:gpu:a100:4', 'cpu=1,gres/gpu=2')."""
    return sum(int(m.group(1)) for m in _GPU_TRES.finditer(tres or ""))


def job_gpus(j: Json) -> int:
    """A queued job's GPUs: allocated, else asked for per job, per node or per task."""
    allocated = gpu_count(j.get("tres_alloc_str"))
    if allocated:
        return allocated
    per_job = gpu_count(j.get("tres_per_job"))
    if per_job:
        return per_job
    per_node = gpu_count(j.get("tres_per_node"))
    if per_node:
        return per_node * (num(j.get("node_count")) or 1)
    return gpu_count(j.get("tres_per_task")) * (num(j.get("tasks")) or 1)


def gres(text: str | None) -> tuple[int, str | None]:
    """(GPU count, GPU type) from a node's gres ('gpu:a100:4(S:0)', 'gpu:4')."""
    total, kind = 0, None
    for item in (text or "").split(","):
        parts = re.sub(r"\(.*?\)", "", item).split(":")
        if parts[0] != "gpu" or len(parts) < 2 or not parts[-1].isdigit():
            continue
        total += int(parts[-1])
        if len(parts) == 3:
            kind = parts[1]
    return total, kind


def tres(items: list[Json] | None) -> dict[str, int]:
    """Accounting TRES lists ([{type, name, count}]) as {"cpu": 4, "gres/gpu": 1, ...}."""
    out: dict[str, int] = {}
    for t in items or []:
        key = t.get("type", "") + (f"/{t['name']}" if t.get("name") else "")
        count = num(t.get("count"))
        if count is not None:
            out[key] = out.get(key, 0) + count
    return out


def cpu_seconds(total: Json | None) -> float | None:
    """CPU time from accounting's {seconds, microseconds}; None when absent."""
    if not total:
        return None
    return (num(total.get("seconds")) or 0) + (num(total.get("microseconds")) or 0) / 1e6


def controllers_up(doc: Json) -> bool:
    """A ping answer: every controller answers (`ping: "UP"` in 22.05, `pinged: "UP"` to
    25.11, `responding: true` from 24.11 on)."""
    pings = doc.get("pings") or []
    if doc.get("errors") or not pings:
        return False
    return all(
        p.get("responding") is True or str(p.get("pinged") or p.get("ping") or "").upper() == "UP"
        for p in pings
    )
