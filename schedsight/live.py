"""Live answers for the site: which imported history, stored site and model answer questions
about the live queue (for `schedsight when`, `slurm status`, the portal API, the dashboard).

Wiring only: `LiveSource` reads the cluster through a backend and the store;
`hpc.predict.live_answer` does the work. The start-time model is trained on the newest
workload `schedsight slurm import` stored for the cluster (or `--workload ID`), by
`_trained_for`, the one place a trained predictor comes from.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from db.store import Store
    from hpc.predict.live_answer import LiveAnswer, TrainedHistory
    from hpc.predict.pending import PendingStart
    from hpc.site.model import Site
    from hpc.slurm.accounting import AccountingRecord
    from hpc.slurm.backend import SlurmBackend
    from hpc.slurm.retry import Backoff
    from hpc.slurm.state import ClusterState

RECENT_S = 2 * 86_400  # accounting read for the hybrid durations and the users' numbers
RECORDS_TTL_S = 60  # how long a server reuses what it read of it


def _trained_for(store: Store, workload_id: int) -> TrainedHistory:
    """The start-time predictor of stored workload `workload_id`, trained on every job of it
    (loaded from the database when it was trained before: `db.trained`), with the partition
    names of the workload's header."""
    from db.trained import Outcome, Training, trained_predictor
    from db.workloads import get_workload, load_trace
    from hpc.model import Machine
    from hpc.predict.live_answer import TrainedHistory
    from hpc.sim.site_mapping import partition_names
    from hpc.workload.cleaning import clean, machine_for
    from hpc.workload.loading import LoadedWorkload

    with store.sessions() as session:
        trace = load_trace(session, workload_id=workload_id)
        name = get_workload(session, workload_id=workload_id).name
        cores = _cluster_cores(session, trace.source)
    # A Slurm import's header names no machine size: the cores of the cluster it came from.
    machine = Machine.procs_only(cores) if cores else machine_for(trace)
    jobs, report = clean(trace, machine=machine)
    outcomes: list[Outcome] = []
    predictor = trained_predictor(
        store,
        LoadedWorkload(trace, machine, jobs, report),
        lineage=f"workload:{name}",
        workload_id=workload_id,
        training=Training(train_share=1.0),
        on_outcome=outcomes.append,
    )
    return TrainedHistory(
        predictor,
        partition_names(trace.header),
        f"workload {workload_id} ({name})",
        outcomes[-1].model_id if outcomes else None,
    )


def _cluster_cores(session: Session, source: str) -> int:
    """Cores of the stored cluster a `slurm:CLUSTER:BACKEND` workload came from (0: none)."""
    from db.clusters import get_cluster
    from db.errors import NotFoundError

    kind, _, rest = source.partition(":")
    if kind != "slurm":
        return 0
    try:
        cluster = get_cluster(session, name=rest.partition(":")[0])
    except NotFoundError:
        return 0
    return sum(n.cores for n in cluster.nodes)


def cluster_workload(store: Store, cluster: str) -> int | None:
    """The newest workload `slurm import` stored from `cluster` (None: none yet)."""
    from db.workloads import newest_from

    with store.sessions() as session:
        return newest_from(session, f"slurm:{cluster}:")


def cluster_site(store: Store, cluster: str) -> Site | None:
    """The stored site of `cluster` (`site import`), or None."""
    from db.sites import site_of_cluster

    with store.sessions() as session:
        return site_of_cluster(session, cluster)


@dataclass(slots=True)
class LiveSource:
    """One cluster's live answers: its backend, its store, and (once trained) its model."""

    backend: SlurmBackend
    backoff: Backoff
    store: Store | None  # None: no database (no stored site, no model)
    workload_id: int | None = None  # None: the cluster's newest imported workload
    asked_by: str = "when"  # who asks, stored with each prediction: "when", "api", "status"
    _trained: dict[str, tuple[TrainedHistory | None, str]] = field(default_factory=dict)
    _records: tuple[int, list[AccountingRecord]] = (0, [])  # (read at, records)
    _training: threading.Lock = field(default_factory=threading.Lock)  # one at a time (API)

    def state(self) -> ClusterState:
        from hpc.slurm.retry import with_retry

        return with_retry(self.backend.cluster_state, self.backoff, what="reading the cluster")

    def records(self, now_s: int) -> list[AccountingRecord]:
        """Recent accounting, read again once RECORDS_TTL_S old (ratios move slowly)."""
        from hpc.slurm.retry import with_retry

        read_s, records = self._records
        if now_s - read_s > RECORDS_TTL_S:
            records = with_retry(
                lambda: self.backend.history(start_s=now_s - RECENT_S),
                self.backoff,
                what="reading recent accounting",
            )
            self._records = (now_s, records)
        return records

    def site(self, cluster: str) -> Site | None:
        return None if self.store is None else cluster_site(self.store, cluster)

    def trained(self, cluster: str) -> tuple[TrainedHistory | None, str]:
        """The model for `cluster` (trained on first use, kept), or None and why not."""
        with self._training:
            if cluster not in self._trained:
                self._trained[cluster] = self._train(cluster)
            return self._trained[cluster]

    def _train(self, cluster: str) -> tuple[TrainedHistory | None, str]:
        from hpc.predict.errors import PredictError

        if self.store is None:
            return None, "no database to read the imported history from"
        workload = self.workload_id or cluster_workload(self.store, cluster)
        if workload is None:
            return None, f"no history imported from {cluster}: run `schedsight slurm import`"
        try:
            trained = _trained_for(self.store, workload)
        except PredictError as exc:
            return None, f"workload {workload}: {exc}"
        return trained, trained.label

    def answer(self, job_id: int) -> LiveAnswer:
        """Everything about pending job `job_id`, now (stored, for its accuracy)."""
        from hpc.predict.live_answer import answer_live, find_pending

        now = int(time.time())
        with ThreadPoolExecutor(1) as pool:  # the queue and the accounting read at once
            records = pool.submit(self.records, now)
            state = self.state()
            self._record_starts(state)
            find_pending(state, job_id)  # an unknown or running job fails before the model
            trained, note = self.trained(state.cluster)
            answer = answer_live(
                state,
                job_id,
                records.result(),
                now,
                site=self.site(state.cluster),
                trained=trained,
                model_note=note,
            )
        if self.store is not None and trained is not None:
            from schedsight.accuracy import answer_prediction, store_predictions

            store_predictions(
                self.store, [answer_prediction(answer, state.cluster, trained, self.asked_by)]
            )
        return answer

    def pending_starts(self, state: ClusterState, *, model: bool) -> dict[int, PendingStart]:
        """Each pending job's planned start, and the model's median where `model` is asked
        for and one can be trained (stored, for its accuracy)."""
        from hpc.predict.pending import pending_starts

        now = int(time.time())
        self._record_starts(state)
        trained = self.trained(state.cluster)[0] if model else None
        site = self.site(state.cluster)
        starts = pending_starts(state, self.records(now), now, site=site, trained=trained)
        if self.store is not None and trained is not None:
            from schedsight.accuracy import median_predictions, store_predictions

            store_predictions(self.store, median_predictions(state, starts, now, trained))
        return starts

    def _record_starts(self, state: ClusterState) -> None:
        """The actual start of every job the queue shows started, beside its predictions."""
        if self.store is not None:
            from schedsight.accuracy import record_state_starts

            record_state_starts(self.store, state)
