"""The Slurm command-line backend: sbatch, squeue/sacct/scontrol --json, sinfo.

Commands run without a shell (argv lists), through an optional prefix (`ssh login1`,
`chroot /var/lib/slurm-trixie`: also an argv, never a shell string); a batch script goes to
sbatch on stdin. The data version is chosen once: the newest that both the tools offer
(`squeue --json=list`, 23.02+) and schedsight reads (`hpc.slurm.dialects`); 22.05's tools
have no choice and say theirs in `meta.plugin`. Each answer is read by the adapter for the
version it declares. Output is read as bytes and decoded by `hpc.slurm.output` (a job's
name may be any bytes, even in the JSON). With `cluster`, every command names it
(`--clusters`), for sites where one slurmdbd serves several clusters.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.backend import StartEstimate
from hpc.slurm.dialects import Dialect, dialect_of, newest_known
from hpc.slurm.errors import ControllerUnreachableError, SlurmCommandError, SlurmDataError
from hpc.slurm.hostlist import expand_hostlist
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.output import decode, load_json, raw_bytes, readable
from hpc.slurm.spec import JobSpec
from hpc.slurm.state import ClusterState, LiveJob, Partition, select_jobs

Runner = Callable[[Sequence[str], bytes | None, float], "subprocess.CompletedProcess[bytes]"]

# What the Slurm tools print when a daemon does not answer (as opposed to refusing).
_UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Socket timed out|Connection refused|"
    r"Zero Bytes were transmitted|Transport endpoint is not connected|"
    r"Problem talking to the database|failed to open persistent connection|"
    r"Slurm backup controller in standby mode",
    re.IGNORECASE,
)
_OFFERED = re.compile(r"data_parser/(v0\.0\.\d+)")
_NO_SUCH_JOB = re.compile(r"Invalid job id specified", re.IGNORECASE)
_TEST_ONLY = re.compile(
    # 26.05 prints a stray word after the time ("... at 2026-12-05T21:18:10 a using 1 ...")
    r"Job (\d+) to start at (\S+)(?: \S+)?? using (\d+) processors on nodes (\S+) in "
    r"partition (\S+)"
)


def run_command(
    argv: Sequence[str], stdin: bytes | None, timeout_s: float
) -> subprocess.CompletedProcess[bytes]:
    # Bytes, not text=True: Slurm prints users' job names as they gave them, and one that is
    # not UTF-8 must not make the whole queue unreadable (issue 20, probe 2).
    return subprocess.run(
        list(argv), input=stdin, capture_output=True, timeout=timeout_s, check=False
    )


def _epoch_arg(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))


def parse_duration_s(value: str) -> int | None:
    """Slurm's [D-]HH:MM:SS, MM:SS or MM; None for UNLIMITED/INFINITE/NONE."""
    if value.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return None
    days, _, rest = value.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 1:
        h, m, s = 0, parts[0], 0
    elif len(parts) == 2:
        h, m, s = (parts[0], parts[1], 0) if days else (0, parts[0], parts[1])
    else:
        h, m, s = parts[0], parts[1], parts[2]
    return (int(days or 0) * 24 + h) * 3600 + m * 60 + s


def parse_partitions_text(text: str) -> list[Partition]:
    """Partitions from `scontrol -o show partition` (22.05 has no `scontrol --json`)."""
    out = []
    for line in text.splitlines():
        fields = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        if "PartitionName" not in fields:
            continue
        nodes = fields.get("Nodes", "")
        out.append(
            Partition(
                name=fields["PartitionName"],
                nodes=tuple(expand_hostlist(nodes if nodes != "(null)" else "")),
                max_time_s=parse_duration_s(fields.get("MaxTime", "UNLIMITED")),
                default=fields.get("Default") == "YES",
                state=fields.get("State", "UP"),
            )
        )
    return out


class CliBackend:
    """Talks to Slurm through its command-line tools on this machine."""

    name = "cli"

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        runner: Runner = run_command,
        prefix: Sequence[str] = (),
        cluster: str | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.prefix = tuple(prefix)
        self.cluster = cluster or None
        self._runner = runner
        self._cluster: str | None = None
        self._dialect: Dialect | None = None
        self._json_flag = "--json"

    def _run(
        self, argv: Sequence[str], stdin: bytes | None, timeout_s: float
    ) -> subprocess.CompletedProcess[bytes]:
        """One Slurm command, through the prefix, naming the cluster where one is set."""
        if self.cluster and argv and argv[0] in ("squeue", "sinfo", "sacct", "scontrol", "sbatch"):
            argv = [argv[0], f"--clusters={self.cluster}", *argv[1:]]
        return self._runner([*self.prefix, *argv], stdin, timeout_s)

    # ---------------------------------------------------------------- plumbing
    def _call(
        self, argv: Sequence[str], stdin: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            done = self._run(argv, None if stdin is None else raw_bytes(stdin), self.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ControllerUnreachableError(
                f"`{argv[0]}` timed out after {self.timeout_s:g} s"
            ) from exc
        except FileNotFoundError as exc:
            if self.prefix:  # the prefix's own program; a Slurm tool missing behind it exits 127
                raise SlurmCommandError(
                    argv[0],
                    f"the command prefix {' '.join(self.prefix)!r} cannot run: {self.prefix[0]} "
                    "not found (SCHEDSIGHT_SLURM_COMMAND_PREFIX)",
                ) from exc
            raise SlurmCommandError(
                argv[0], "command not found: install the Slurm client (slurm-client)"
            ) from exc
        if done.returncode != 0:
            message = " ".join(readable(done.stderr or done.stdout or b"").split())
            if _UNREACHABLE.search(message) or not self.controller_up():
                raise ControllerUnreachableError(f"`{argv[0]}`: {message}")
            raise SlurmCommandError(f"`{' '.join(argv[:2])}`", message, returncode=done.returncode)
        return done

    def controller_up(self) -> bool:
        """`scontrol ping` (instant either way). 22.05's tools misreport a down controller:
        `squeue --json` exits 0 with "Unspecified error", `scontrol hold` says "Unexpected
        message received"; so every failure is checked against this before it is blamed
        on the request."""
        try:
            done = self._runner([*self.prefix, "scontrol", "ping"], None, self.timeout_s)
        except (subprocess.TimeoutExpired, OSError):
            return False
        return done.returncode == 0 and b"is UP" in done.stdout

    def text(self, argv: Sequence[str]) -> str:
        """A Slurm command's output as text, byte-faithful (see `hpc.slurm.output.decode`),
        through the prefix and naming the cluster; a failure raises as every call here does.
        Public for readers of text-only output (`hpc.slurm.site_reader`)."""
        return decode(self._call(argv).stdout)

    def dialect(self) -> Dialect:
        """The data version to ask for: the newest both the tools and schedsight know."""
        if self._dialect is None:
            try:
                listed = self._runner([*self.prefix, "squeue", "--json=list"], None, self.timeout_s)
                offered = _OFFERED.findall(decode(listed.stdout + listed.stderr))
            except (subprocess.TimeoutExpired, OSError):
                offered = []
            if offered:
                where = "the Slurm tools (`squeue --json=list`)"
                self._dialect = newest_known(offered, where=where)
                self._json_flag = f"--json={self._dialect.version}"
            else:  # 22.05 has one data version and no list: its answers say which
                self._dialect = self._json(["squeue"])[0]
        return self._dialect

    def _json(self, argv: Sequence[str]) -> tuple[Dialect, Mapping[str, Any]]:
        out = self._call([argv[0], self._json_flag, *argv[1:]]).stdout
        start = out.find(b"{")  # `--clusters` puts a "CLUSTER: name" line first
        try:
            doc = load_json(out[start:] if start > 0 else out)
        except ValueError as exc:
            raise SlurmDataError(
                f"`{argv[0]} --json` printed no JSON: {readable(out[:200])!r}"
            ) from exc
        if not isinstance(doc, dict):
            raise SlurmDataError(f"`{argv[0]} --json` printed JSON that is not an object")
        if doc.get("errors") and not self.controller_up():
            raise ControllerUnreachableError(f"`{argv[0]} --json`: {doc['errors']}")
        return dialect_of(doc, what=f"`{argv[0]}`"), doc

    def cluster_name(self) -> str:
        if self._cluster is None:
            for line in self.text(["scontrol", "show", "config"]).splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "ClusterName":
                    self._cluster = value.strip()
                    break
            else:
                self._cluster = "unknown"
        return self._cluster

    # ---------------------------------------------------------------- read
    def cluster_state(self) -> ClusterState:
        dialect, nodes_doc = self._json(self.dialect().cli_nodes)
        adapter = dialect.adapter
        # Text, not JSON: only it says which partition is the default before 26.05.
        partitions = parse_partitions_text(self.text(["scontrol", "-o", "show", "partition"]))
        return ClusterState(
            cluster=self.cluster_name(),
            release=adapter.release(nodes_doc),
            backend=self.name,
            nodes=tuple(adapter.parse_nodes(nodes_doc)),
            partitions=tuple(partitions),
            jobs=tuple(self.jobs()),
        )

    def jobs(self, job_ids: Collection[int] | None = None) -> list[LiveJob]:
        argv = ["squeue"]
        if self.dialect().cli_filters:  # 22.05 ignores them and lists every job: filter here
            argv.append("--states=all")  # as 22.05 does: finished jobs the controller still has
            if job_ids:
                argv.append("--jobs=" + ",".join(map(str, sorted(job_ids))))
        try:
            dialect, doc = self._json(argv)
        except SlurmCommandError as exc:
            if job_ids and _NO_SUCH_JOB.search(str(exc)):
                return []  # every id asked for has left the controller
            raise
        jobs: list[LiveJob] = dialect.adapter.parse_jobs(doc)
        return select_jobs(jobs, job_ids)

    def history(
        self, *, start_s: int, end_s: int | None = None, job_ids: Collection[int] | None = None
    ) -> list[AccountingRecord]:
        self.dialect()
        argv = ["sacct", "--allusers", f"--starttime={_epoch_arg(start_s)}"]
        argv.append(f"--endtime={_epoch_arg(end_s) if end_s else 'now'}")
        if job_ids:
            argv.append("--jobs=" + ",".join(str(j) for j in sorted(job_ids)))
        dialect, doc = self._json(argv)
        records: list[AccountingRecord] = dialect.adapter.parse_accounting(doc)
        return self._fill_exit_codes(records)

    def _fill_exit_codes(self, records: list[AccountingRecord]) -> list[AccountingRecord]:
        """22.05's sacct --json says a failed job exited 0; its text output has the truth."""
        unknown = [r.job_id for r in records if r.state == "FAILED" and r.exit_code is None]
        if not unknown:
            return records
        text = self.text(
            [
                "sacct",
                "-X",
                "-n",
                "-P",
                "-o",
                "JobIDRaw,ExitCode",
                "-j",
                ",".join(map(str, unknown)),
            ]
        )
        codes: dict[int, tuple[int, int]] = {}
        for line in text.splitlines():
            job, _, code = line.partition("|")
            status, _, sig = code.partition(":")
            if job.isdigit() and status.isdigit() and sig.isdigit():
                codes[int(job)] = (int(status), int(sig))
        return [
            dataclasses.replace(r, exit_code=codes[r.job_id][0], signal=codes[r.job_id][1] or None)
            if r.job_id in codes and r.exit_code is None
            else r
            for r in records
        ]

    # ---------------------------------------------------------------- act
    def submit(self, spec: JobSpec, *, comment: str) -> int:
        done = self._call(
            ["sbatch", "--parsable", *spec.sbatch_options(comment=comment)], spec.render_script()
        )
        out = readable(done.stdout)
        first = out.strip().split(";")[0]
        if not first.isdigit():
            raise SlurmDataError(f"sbatch --parsable printed {out!r}, not a job id")
        return int(first)

    def apply(self, job_id: int, action: Action) -> None:
        jid = str(job_id)
        argv: list[str]
        match action.kind:
            case ActionKind.HOLD:
                argv = ["scontrol", "hold", jid]
            case ActionKind.RELEASE:
                argv = ["scontrol", "release", jid]
            case ActionKind.NICE:
                argv = ["scontrol", "update", f"jobid={jid}", f"nice={action.value}"]
            case ActionKind.PRIORITY:
                argv = ["scontrol", "update", f"jobid={jid}", f"priority={action.value}"]
            case ActionKind.BEGIN:  # scontrol calls the begin time StartTime
                argv = ["scontrol", "update", f"jobid={jid}", f"starttime={action.value}"]
            case ActionKind.DEPENDENCY:
                argv = ["scontrol", "update", f"jobid={jid}", f"dependency={action.value or ''}"]
        self._call(argv)

    # ---------------------------------------------------------------- estimate
    def test_only(self, spec: JobSpec) -> StartEstimate:
        done = self._call(
            ["sbatch", "--test-only", *spec.sbatch_options(comment=spec.comment)],
            spec.render_script(),
        )
        text = readable(done.stderr + done.stdout)
        match = _TEST_ONLY.search(text)
        if match is None:
            raise SlurmDataError(f"sbatch --test-only gave no start estimate: {text.strip()!r}")
        job_id, start, cpus, nodes, partition = match.groups()
        start_s = int(datetime.fromisoformat(start).timestamp())  # local time, as Slurm prints
        return StartEstimate(start_s, "test-only", int(job_id), nodes, partition, int(cpus))
