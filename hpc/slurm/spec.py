"""A job to submit, as typed data, and how it becomes a batch script and sbatch options.

Nothing a user typed ever reaches a shell unquoted: the command is an argument vector joined
with `shlex.join`, environment values are `shlex.quote`d, and every other field (name, comment,
paths, dependency) travels as one argv element or one JSON string, never through a shell.
A client token appended to the comment makes a retried submit find the job it already made.
Every field is valid UTF-8 text: bytes that are not (a name typed as $'caf\xe9') are refused,
since slurmrestd's JSON and the audit log cannot carry them and they break others' tools.
"""

from __future__ import annotations

import re
import shlex
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from hpc.slurm.errors import JobSpecError
from hpc.slurm.output import is_utf8, shown

TOKEN_PREFIX = " [schedsight-token "
_TOKEN = re.compile(r" \[schedsight-token ([0-9a-f]{32})\]\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ARRAY = re.compile(r"\d+(-\d+(:\d+)?)?(,\d+(-\d+(:\d+)?)?)*(%\d+)?\Z")
_DEPENDENCY = re.compile(
    r"(after|afterany|afterok|afternotok|aftercorr|afterburstbuffer|singleton)"
    r"(:\d+(_\d+)?(\+\d+)?)*([,?](after|afterany|afterok|afternotok|aftercorr|singleton)"
    r"(:\d+(_\d+)?(\+\d+)?)*)*\Z"
)
_BEGIN = re.compile(
    r"(now(\+\d+((second|minute|hour|day|week)s?)?)?|\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?)?)\Z"
)
_GPU_TYPE = re.compile(r"[A-Za-z0-9_.-]+\Z")


def new_token() -> str:
    """A fresh client token: 32 hex digits."""
    return uuid.uuid4().hex


def tag_comment(comment: str, token: str) -> str:
    """The comment Slurm stores: the user's comment followed by the client token."""
    return f"{comment}{TOKEN_PREFIX}{token}]"


def split_comment(stored: str) -> tuple[str, str | None]:
    """(user comment, token or None) from a comment as Slurm stores it; exact inverse of tag."""
    match = _TOKEN.search(stored)
    if match is None:
        return stored, None
    return stored[: match.start()], match.group(1)


def check_dependency(value: str) -> str:
    if not _DEPENDENCY.match(value):
        raise JobSpecError(
            f"dependency {value!r} is not a Slurm dependency list (e.g. afterok:123:124)"
        )
    return value


def check_begin(value: str) -> str:
    if not _BEGIN.match(value):
        raise JobSpecError(
            f"begin time {value!r} not understood: use YYYY-MM-DD[THH:MM[:SS]] or now+N[hours]"
        )
    return value


_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def begin_epoch(value: str, *, now_s: float) -> int:
    """A begin time (see `check_begin`) in seconds since the epoch, read as Slurm reads it:
    `now+N` counts seconds unless a unit follows; a date or date-time is local time."""
    check_begin(value)
    if value.startswith("now"):
        amount = re.match(r"now\+(\d+)([a-z]*?)s?\Z", value)
        if amount is None:
            return int(now_s)
        return int(now_s) + int(amount.group(1)) * _UNIT_S.get(amount.group(2), 1)
    return int(datetime.fromisoformat(value).timestamp())


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything schedsight may ask of sbatch. Sizes are per job unless the name says not."""

    name: str
    command: tuple[str, ...]  # argv: run as is, each element quoted
    account: str | None = None
    partition: str | None = None
    nodes: int = 1
    ntasks: int = 1
    cpus_per_task: int = 1
    gpus: int = 0
    gpu_type: str | None = None
    time_limit_s: int = 3600
    mem_per_cpu_mb: int | None = None
    array: str | None = None  # e.g. "0-9%2"
    dependency: str | None = None  # e.g. "afterok:123"
    begin: str | None = None  # e.g. "2026-12-01T10:00" or "now+1hours"
    hold: bool = False
    comment: str = ""
    workdir: str = "/tmp"
    output: str | None = None  # Slurm's own patterns (%j, %A, %a) are allowed
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.command or not self.command[0]:
            raise JobSpecError("a job needs a command (an argument vector, first element set)")
        for what, value in (
            ("name", self.name),
            ("comment", self.comment),
            ("workdir", self.workdir),
            ("output", self.output or ""),
            *(("command argument", a) for a in self.command),
            *(("environment value", v) for v in self.env.values()),
        ):
            if "\0" in value:
                raise JobSpecError(f"the job's {what} contains a NUL byte, which Slurm truncates")
            if not is_utf8(value):
                # argv arrives surrogate-escaped; refused rather than passed on as bytes.
                raise JobSpecError(
                    f"the job's {what} '{shown(value)}' is not valid UTF-8: Slurm's JSON "
                    "(squeue --json, slurmrestd) and the audit log carry only UTF-8 text; "
                    "type it in UTF-8"
                )
        if not self.name:
            raise JobSpecError("a job needs a name")
        if "schedsight-token" in self.comment:
            raise JobSpecError("a comment may not contain 'schedsight-token' (reserved)")
        for what, n in (("nodes", self.nodes), ("ntasks", self.ntasks)):
            if n < 1:
                raise JobSpecError(f"{what} must be at least 1, got {n}")
        if self.cpus_per_task < 1 or self.gpus < 0:
            raise JobSpecError("cpus per task must be >= 1 and GPUs >= 0")
        if self.time_limit_s < 60:
            raise JobSpecError(f"time limit must be at least 60 s, got {self.time_limit_s}")
        if self.mem_per_cpu_mb is not None and self.mem_per_cpu_mb < 1:
            raise JobSpecError("memory per CPU must be positive (MB)")
        if self.array is not None and not _ARRAY.match(self.array):
            raise JobSpecError(f"array {self.array!r} is not a Slurm index list (e.g. 0-9%2)")
        if self.dependency is not None:
            check_dependency(self.dependency)
        if self.begin is not None:
            check_begin(self.begin)
        if self.gpu_type is not None and not _GPU_TYPE.match(self.gpu_type):
            raise JobSpecError(f"GPU type {self.gpu_type!r} has characters Slurm does not allow")
        for name in self.env:
            if not _ENV_NAME.match(name):
                raise JobSpecError(f"environment variable name {name!r} is not a valid name")
        if not self.workdir.startswith("/"):
            raise JobSpecError(f"workdir must be an absolute path, got {self.workdir!r}")

    @property
    def time_limit_min(self) -> int:
        return -(-self.time_limit_s // 60)

    @property
    def gpu_request(self) -> str | None:
        """`gpu:a100:2` or `gpu:2` (per job), None without GPUs."""
        if not self.gpus:
            return None
        return f"{self.gpu_type}:{self.gpus}" if self.gpu_type else str(self.gpus)

    def render_script(self) -> str:
        """The batch script: a fixed prologue, quoted exports, the quoted command.

        The first line after the shebang is a command, so sbatch reads no `#SBATCH` line
        from anything below it, even a quoted argument that contains one after a newline.
        """
        lines = ["#!/bin/bash", "set -eu"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        lines.append(shlex.join(self.command))
        return "\n".join(lines) + "\n"

    def sbatch_options(self, *, comment: str) -> list[str]:
        """sbatch's options as argv elements (no shell): one `--key=value` each."""
        opts = [
            f"--job-name={self.name}",
            f"--nodes={self.nodes}",
            f"--ntasks={self.ntasks}",
            f"--cpus-per-task={self.cpus_per_task}",
            f"--time={self.time_limit_min}",
            f"--chdir={self.workdir}",
            f"--output={self.output or '/dev/null'}",
            f"--comment={comment}",
        ]
        optional = {
            "--account": self.account,
            "--partition": self.partition,
            "--gpus": self.gpu_request,
            "--mem-per-cpu": str(self.mem_per_cpu_mb) if self.mem_per_cpu_mb else None,
            "--array": self.array,
            "--dependency": self.dependency,
            "--begin": self.begin,
        }
        opts += [f"{k}={v}" for k, v in optional.items() if v is not None]
        if self.hold:
            opts.append("--hold")
        return opts
