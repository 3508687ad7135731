"""The slurmrestd backend: Slurm's REST API over a local unix socket or JWT on loopback.

The server's OpenAPI document says which API versions it offers; the newest one that
schedsight reads is used (`hpc.slurm.dialects`: 22.05 offers v0.0.36-38 and v0.0.38 is
used; 24.11 offers v0.0.40-42; 26.05 v0.0.42-45). From v0.0.39 numbers in requests are
objects {set, number}, the environment a list of "K=V", GPUs a TRES (`gres/gpu:2`).
On the unix socket slurmrestd authenticates the connecting process (`rest_auth/local`) and
jobs run as the daemon's user; over TCP it wants `X-SLURM-USER-NAME`/`-TOKEN` (JWT from
`scontrol token`). 22.05's REST has no `--test-only`, so `test_only` says so. Bodies are
read as bytes and decoded by `hpc.slurm.output`: a job's name may be any bytes, even in JSON.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.backend import StartEstimate
from hpc.slurm.dialects import BY_VERSION, Dialect, JsonAdapter, newest_known
from hpc.slurm.errors import (
    BackendUnavailableError,
    ControllerUnreachableError,
    SlurmCommandError,
    SlurmDataError,
    SlurmError,
)
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.json_common import error_text, errors_of
from hpc.slurm.output import load_json, readable
from hpc.slurm.spec import JobSpec, begin_epoch
from hpc.slurm.state import ClusterState, LiveJob, select_jobs

_VERSION = re.compile(r"^/slurm/(v(\d+)\.(\d+)\.(\d+))/ping/?$")  # 23.11+: a trailing /
_UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Socket timed out|Connection refused|"
    r"Zero Bytes were transmitted|Unable to connect to database|persistent connection",
    re.IGNORECASE,
)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def offered_versions(openapi: Mapping[str, Any]) -> list[str]:
    """API versions in a slurmrestd OpenAPI document, oldest first ("v0.0.36", ...)."""
    found = []
    for path in openapi.get("paths") or {}:
        m = _VERSION.match(path)
        if m:
            found.append((tuple(int(g) for g in m.groups()[1:]), m.group(1)))
    return [v for _, v in sorted(found)]


def pick_version(offered: list[str], *, where: str = "slurmrestd") -> str:
    """The newest offered version that schedsight reads."""
    return newest_known(offered, where=where).version


def _number(value: int) -> dict[str, Any]:
    """A number in a v0.0.39+ request: {set, number} (plain integers draw a warning)."""
    return {"set": True, "infinite": False, "number": value}


class RestBackend:
    """Talks to slurmrestd. `url` is `unix:/path/to.sock` or `http://127.0.0.1:6820`."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        cluster: str | None = None,
    ) -> None:
        self.url = url
        self.cluster = cluster or None  # slurmdbd is asked for it; the controller must be it
        headers = {"Content-Type": "application/json"}
        if url.startswith("unix:"):
            transport = transport or httpx.HTTPTransport(uds=url.removeprefix("unix:"))
            base = "http://slurmrestd"
            self.name = "rest-unix"
        else:
            if not token or not user:
                raise BackendUnavailableError(
                    f"slurmrestd at {url} needs a user and a JWT (SCHEDSIGHT_SLURM_REST_USER "
                    "and SCHEDSIGHT_SLURM_JWT; make one with `scontrol token`)"
                )
            headers["X-SLURM-USER-NAME"] = user
            headers["X-SLURM-USER-TOKEN"] = token
            base = url.rstrip("/")
            self.name = "rest-jwt"
        self._http = httpx.Client(
            base_url=base, headers=headers, timeout=timeout_s, transport=transport
        )
        self._version: str | None = None
        self._cluster: str | None = None

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- plumbing
    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as exc:
            raise ControllerUnreachableError(
                f"slurmrestd at {self.url} does not answer: {exc}"
            ) from exc
        if response.status_code == 401:
            raise SlurmCommandError(
                f"{method} {path}",
                "slurmrestd refused the credentials (401): check the user "
                "and that the JWT has not expired (`scontrol token`)",
            )
        try:
            # Not response.json(): it decodes strictly, and slurmrestd sends a job's name as
            # the bytes it was given (issue 20, probe 2: "…/jobs failed: HTTP 200").
            doc = load_json(response.content)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise SlurmCommandError(
                f"{method} {path}",
                f"HTTP {response.status_code}: {readable(response.content[:200])!r}",
            )
        return doc

    def _raise_errors(self, doc: Mapping[str, Any], what: str, *, empty_ok: bool = False) -> None:
        errors = errors_of(doc, empty_ok=empty_ok)
        if not errors:
            return
        text = error_text(errors)
        if _UNREACHABLE.search(text) or not self.controller_up():
            raise ControllerUnreachableError(f"{what}: {text}")
        raise SlurmCommandError(what, text)

    def controller_up(self) -> bool:
        """slurmrestd's own ping. 22.05 reports a down controller as "Unspecified error" or
        "Unexpected message received", so every error is checked against this first."""
        try:
            doc = self._request("GET", f"/slurm/{self.version}/ping")
        except SlurmError:
            return False
        return self._adapter().controllers_up(doc)

    @property
    def version(self) -> str:
        if self._version is None:
            offered = offered_versions(self._request("GET", "/openapi/v3"))
            self._version = pick_version(offered, where=f"slurmrestd at {self.url}")
        return self._version

    @property
    def dialect(self) -> Dialect:
        return BY_VERSION[self.version]

    def _adapter(self) -> JsonAdapter:
        return self.dialect.adapter

    def _get(
        self, path: str, what: str, *, empty_ok: bool = False, **params: str
    ) -> dict[str, Any]:
        """GET a document, raising its errors; `empty_ok`: "nothing found" is no error."""
        doc = self._request("GET", path.format(v=self.version), params=params or None)
        self._raise_errors(doc, what, empty_ok=empty_ok)
        return doc

    # ---------------------------------------------------------------- read
    def cluster_state(self) -> ClusterState:
        adapter = self._adapter()
        nodes_doc = self._get("/slurm/{v}/nodes", "reading the nodes")
        parts_doc = self._get("/slurm/{v}/partitions", "reading the partitions")
        jobs = self.jobs()
        cluster = self._cluster or self._cluster_from_accounting()
        if self.cluster and cluster not in (self.cluster, "unknown"):
            raise SlurmCommandError(
                f"reading cluster {self.cluster}",
                f"slurmrestd at {self.url} serves cluster {cluster}: point "
                f"SCHEDSIGHT_SLURM_REST_URL at {self.cluster}'s slurmrestd",
            )
        return ClusterState(
            cluster=cluster,
            release=adapter.release(nodes_doc),
            backend=self.name,
            nodes=tuple(adapter.parse_nodes(nodes_doc)),
            partitions=tuple(adapter.parse_partitions(parts_doc)),
            jobs=tuple(jobs),
        )

    def _cluster_from_accounting(self) -> str:
        """The cluster's name when slurmdbd knows exactly one (the queue may be empty)."""
        try:
            doc = self._get("/slurmdb/{v}/clusters", "reading the clusters")
        except SlurmError:
            return "unknown"
        names = [c.get("name") for c in doc.get("clusters") or []]
        return str(names[0]) if len(names) == 1 else "unknown"

    def jobs(self, job_ids: Collection[int] | None = None) -> list[LiveJob]:
        doc = self._get("/slurm/{v}/jobs", "reading the job queue")
        for j in doc.get("jobs") or []:
            self._cluster = self._cluster or j.get("cluster")
        jobs: list[LiveJob] = self._adapter().parse_jobs(doc)
        return select_jobs(jobs, job_ids)

    def history(
        self, *, start_s: int, end_s: int | None = None, job_ids: Collection[int] | None = None
    ) -> list[AccountingRecord]:
        # 22.05's query parser takes a date but not a time of day: ask by day, cut here.
        params = {"start_time": time.strftime("%Y-%m-%d", time.localtime(start_s))}
        if self.cluster:
            params["cluster"] = self.cluster
        doc = self._get(
            "/slurmdb/{v}/jobs", "reading the accounting records", empty_ok=True, **params
        )
        records: list[AccountingRecord] = self._adapter().parse_accounting(doc)
        wanted = set(job_ids or ())
        end = end_s or int(time.time())
        return [
            r
            for r in records
            if (r.end_s or end) >= start_s
            and r.submit_s <= end
            and (not wanted or r.job_id in wanted or r.array_job_id in wanted)
        ]

    # ---------------------------------------------------------------- act
    def _job_properties(self, spec: JobSpec, comment: str) -> dict[str, Any]:
        environment = {"PATH": DEFAULT_PATH, **spec.env}
        props: dict[str, Any] = {
            "name": spec.name,
            "nodes": str(spec.nodes),
            "tasks": spec.ntasks,
            "cpus_per_task": spec.cpus_per_task,
            "time_limit": spec.time_limit_min,
            "current_working_directory": spec.workdir,
            "standard_output": spec.output or "/dev/null",
            "comment": comment,
            "environment": environment,
        }
        optional: dict[str, Any] = {
            "account": spec.account,
            "partition": spec.partition,
            "gpus": spec.gpu_request,
            "memory_per_cpu": spec.mem_per_cpu_mb,
            "array": spec.array,
            "dependency": spec.dependency,
            "begin_time": spec.begin,
            "hold": True if spec.hold else None,
        }
        if self.dialect.version != "v0.0.38":  # the data_parser's request shapes
            props["time_limit"] = _number(spec.time_limit_min)
            props["environment"] = [f"{k}={v}" for k, v in environment.items()]
            optional["gpus"] = None
            optional["tres_per_job"] = f"gres/gpu:{spec.gpu_request}" if spec.gpu_request else None
            if spec.mem_per_cpu_mb:
                optional["memory_per_cpu"] = _number(spec.mem_per_cpu_mb)
            if spec.begin:
                optional["begin_time"] = _number(begin_epoch(spec.begin, now_s=time.time()))
        props.update({k: v for k, v in optional.items() if v is not None})
        return props

    def submit(self, spec: JobSpec, *, comment: str) -> int:
        body = {"script": spec.render_script(), "job": self._job_properties(spec, comment)}
        doc = self._request("POST", f"/slurm/{self.version}/job/submit", json=body)
        job_id = doc.get("job_id")
        if isinstance(job_id, int) and job_id > 0:
            return job_id  # errors beside a job id are notes ("job is held")
        self._raise_errors(doc, f"submitting {spec.name!r}")
        raise SlurmDataError(f"slurmrestd returned no job id: {str(doc)[:200]}")

    def apply(self, job_id: int, action: Action) -> None:
        body: dict[str, Any]
        match action.kind:
            case ActionKind.HOLD:
                body = {"hold": True}
            case ActionKind.RELEASE:
                body = {"hold": False}
            case ActionKind.NICE:
                body = {"nice": action.value}
            case ActionKind.PRIORITY:
                body = {"priority": action.value}
            case ActionKind.BEGIN:
                body = {"begin_time": action.value}
            case ActionKind.DEPENDENCY:
                body = {"dependency": action.value or ""}
        if self.dialect.version != "v0.0.38" and action.kind is ActionKind.PRIORITY:
            body = {"priority": _number(int(str(action.value)))}
        if self.dialect.version != "v0.0.38" and action.kind is ActionKind.BEGIN:
            body = {"begin_time": _number(begin_epoch(str(action.value), now_s=time.time()))}
        doc = self._request("POST", f"/slurm/{self.version}/job/{job_id}", json=body)
        self._raise_errors(doc, f"{action.describe()} job {job_id}")

    def test_only(self, spec: JobSpec) -> StartEstimate:
        raise BackendUnavailableError(
            f"slurmrestd {self.version} cannot test a job without submitting it (no "
            "--test-only in its API): use the cli backend for estimates"
        )
