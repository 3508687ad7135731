"""The pyslurm backend: Slurm's C API through pyslurm's new API, where it is installed.

pyslurm must match the cluster's Slurm release exactly. PyPI only offers pyslurm 25.11 (for
Slurm 25.11); a 22.05 cluster needs pyslurm 22.5.x built from the PySlurm repository's tag.
When it is missing or does not match, `PyslurmBackend()` raises `BackendUnavailableError` saying
which and what to do; nothing here imports pyslurm at module import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.backend import StartEstimate
from hpc.slurm.errors import BackendUnavailableError, SlurmCommandError
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.spec import JobSpec, split_comment
from hpc.slurm.state import ClusterState, LiveJob, Node, Partition


def load_pyslurm() -> Any:
    """The pyslurm module, checked against the Slurm it was built for; or why not."""
    try:
        pyslurm = importlib.import_module("pyslurm")
    except ImportError as exc:
        raise BackendUnavailableError(
            f"pyslurm is not installed ({exc}). PyPI only has pyslurm 25.11, which needs Slurm "
            "25.11; for Slurm 22.05 build pyslurm v22.5.x from the PySlurm repository's tag "
            "(SLURM_INCLUDE_DIR=/usr/include SLURM_LIB_DIR=/usr/lib/x86_64-linux-gnu pip "
            "install ./pyslurm-22.5.3), or use the cli or rest backend"
        ) from exc
    if not hasattr(pyslurm, "Jobs") or not hasattr(pyslurm, "JobSubmitDescription"):
        raise BackendUnavailableError(
            f"pyslurm {getattr(pyslurm, '__version__', '?')} lacks the new API (Jobs, "
            "JobSubmitDescription, db.Jobs): install pyslurm >= 22.5"
        )
    built = ".".join(str(x) for x in tuple(pyslurm.slurm_api_version())[:2])
    own = ".".join(str(getattr(pyslurm, "__version__", "")).split(".")[:2])
    if own and built and not own.startswith(built.split(".")[0]):
        raise BackendUnavailableError(
            f"pyslurm {own} does not match the Slurm API {built} it found"
        )
    return pyslurm


class PyslurmBackend:
    """Reads and acts through pyslurm (`Jobs.load`, `JobSubmitDescription.submit`,
    `db.Jobs.load`). Untested where pyslurm cannot be installed (see the module docstring)."""

    name = "pyslurm"

    def __init__(self) -> None:
        self._py = load_pyslurm()

    def cluster_state(self) -> ClusterState:
        py = self._py
        nodes = [
            Node(
                name=n.name,
                state=str(n.state).lower(),
                cpus=int(n.total_cpus or 0),
                alloc_cpus=int(n.allocated_cpus or 0),
                mem_mb=int(n.real_memory or 0),
                alloc_mem_mb=int(n.allocated_memory or 0),
                gpus=sum(int(v) for k, v in (n.configured_gres or {}).items() if "gpu" in k),
                partitions=tuple(n.partitions or ()),
            )
            for n in py.Nodes.load().values()
        ]
        partitions = [
            Partition(
                name=p.name,
                nodes=tuple(py.utils.expand_host_list(p.nodes or "")),
                max_time_s=None if p.max_time in (None, "UNLIMITED") else int(p.max_time) * 60,
                default=bool(p.is_default),
                state=str(p.state),
            )
            for p in py.Partitions.load().values()
        ]
        return ClusterState(
            cluster=str(py.settings.local_cluster),
            release=".".join(str(x) for x in py.slurm_api_version()),
            backend=self.name,
            nodes=tuple(nodes),
            partitions=tuple(partitions),
            jobs=tuple(self.jobs()),
        )

    def jobs(self, job_ids: Collection[int] | None = None) -> list[LiveJob]:
        out = []
        for j in self._py.Jobs.load().values():
            if job_ids is not None and j.id not in job_ids and j.array_id not in job_ids:
                continue
            comment, token = split_comment(j.comment or "")
            out.append(
                LiveJob(
                    job_id=int(j.id),
                    name=j.name or "",
                    user=j.user_name or "",
                    account=j.account or "",
                    partition=j.partition or "",
                    state=str(j.state),
                    reason=str(j.state_reason or "None"),
                    submit_s=int(j.submit_time or 0),
                    eligible_s=j.eligible_time or None,
                    start_s=j.start_time or None,
                    end_s=j.end_time or None,
                    time_limit_s=None if j.time_limit is None else int(j.time_limit) * 60,
                    cpus=int(j.cpus or 0),
                    node_count=int(j.num_nodes or 0),
                    node_list=j.nodes or "",
                    priority=int(j.priority or 0),
                    nice=int(j.nice or 0),
                    dependency=str(j.dependencies or ""),
                    comment=comment,
                    token=token,
                    array_job_id=j.array_id or None,
                    array_task_id=j.array_task_id,
                    exit_code=j.exit_code,
                )
            )
        return out

    def history(
        self, *, start_s: int, end_s: int | None = None, job_ids: Collection[int] | None = None
    ) -> list[AccountingRecord]:
        db = self._py.db
        flt = db.JobFilter(start_time=start_s, end_time=end_s, ids=list(job_ids or []) or None)
        out = []
        for j in db.Jobs.load(flt).values():
            comment, token = split_comment(j.comment or "")
            out.append(
                AccountingRecord(
                    job_id=int(j.id),
                    name=j.name or "",
                    user=j.user_name or "",
                    group=j.group_name or "",
                    account=j.account or "",
                    partition=j.partition or "",
                    state=str(j.state),
                    submit_s=int(j.submit_time or 0),
                    eligible_s=j.eligible_time or None,
                    start_s=j.start_time or None,
                    end_s=j.end_time or None,
                    time_limit_s=None if j.time_limit is None else int(j.time_limit) * 60,
                    req_cpus=int(j.cpus or 0),
                    alloc_cpus=int(j.cpus or 0),
                    req_mem_mb=j.memory,
                    exit_code=j.exit_code,  # pyslurm.db reports failed exits correctly
                    comment=comment,
                    token=token,
                )
            )
        return out

    def submit(self, spec: JobSpec, *, comment: str) -> int:
        desc = self._py.JobSubmitDescription(
            name=spec.name,
            script=spec.render_script(),
            account=spec.account,
            partitions=spec.partition,
            nodes=spec.nodes,
            ntasks=spec.ntasks,
            cpus_per_task=spec.cpus_per_task,
            time_limit=spec.time_limit_min,
            working_directory=spec.workdir,
            standard_output=spec.output or "/dev/null",
            comment=comment,
            gpus=spec.gpu_request,
            array=spec.array,
            dependencies=spec.dependency,
            begin_time=spec.begin,
            priority=0 if spec.hold else None,
        )
        return int(desc.submit())

    def apply(self, job_id: int, action: Action) -> None:
        py = self._py
        try:
            match action.kind:
                case ActionKind.HOLD:
                    py.Job(job_id).hold()
                case ActionKind.RELEASE:
                    py.Job(job_id).release()
                case ActionKind.NICE:
                    py.Job(job_id).modify(py.JobSubmitDescription(nice=action.value))
                case ActionKind.PRIORITY:
                    py.Job(job_id).modify(py.JobSubmitDescription(priority=action.value))
                case ActionKind.BEGIN:
                    py.Job(job_id).modify(py.JobSubmitDescription(begin_time=action.value))
                case ActionKind.DEPENDENCY:
                    py.Job(job_id).modify(py.JobSubmitDescription(dependencies=action.value))
        except py.RPCError as exc:
            raise SlurmCommandError(f"{action.describe()} job {job_id}", str(exc)) from exc

    def test_only(self, spec: JobSpec) -> StartEstimate:
        raise BackendUnavailableError(
            "pyslurm has no --test-only: use the cli backend for estimates"
        )
