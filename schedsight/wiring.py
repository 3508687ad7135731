"""The composition root's product: settings, read once per process, turned into what the
commands need (the store, the Slurm backend, the remit, retries, the LLM, the dashboard's
config). Commands take a `Wiring`; nothing below `schedsight/` reads settings or the
environment itself.

Factories import their heavy dependencies when called, so building a `Wiring` costs nothing.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

    from agent.llm.config import LLMConfig
    from dashboard.config import DashboardConfig
    from db.store import Store
    from hpc.predict.live_answer import LiveAnswer, TrainedHistory
    from hpc.slurm.backend import SlurmBackend
    from hpc.slurm.cli_backend import CliBackend
    from hpc.slurm.remit import Remit
    from hpc.slurm.retry import Backoff
    from schedsight.live import LiveSource
    from schedsight.settings import Settings


@dataclass(frozen=True, slots=True)
class Wiring:
    """The settings of one process and the factories built from them."""

    settings: Settings

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url()

    @property
    def admin_token(self) -> SecretStr:
        return self.settings.admin_token

    def open_store(self, *, check_schema: bool = True) -> Store:
        """The database (an embedded SQLite one is created and migrated on first use)."""
        from db.store import Store

        return Store.open(self.database_url, check_schema=check_schema)

    def slurm_backend(self, kind: str | None = None, *, cluster: str | None = None) -> SlurmBackend:
        """The backend that settings (or `kind`) name, from the table in `hpc.slurm.backends`,
        for the settings' cluster (or `cluster`)."""
        from hpc.slurm.backends import BackendOptions, open_backend

        s = self.settings
        options = BackendOptions(
            timeout_s=s.slurm_timeout_s,
            rest_url=s.slurm_rest_url,
            rest_user=s.slurm_rest_user or None,
            rest_token=s.slurm_jwt.get_secret_value() if s.slurm_jwt else None,
            command_prefix=s.command_prefix(),
            cluster=cluster or s.slurm_cluster or None,
        )
        return open_backend(kind or s.slurm_backend, options)

    def slurm_cli(self, *, cluster: str | None = None) -> CliBackend:
        """The Slurm command-line tools with the settings' prefix and cluster, whichever
        backend the settings pick: what reads the output only the tools print (a site)."""
        from hpc.slurm.cli_backend import CliBackend

        backend = self.slurm_backend("cli", cluster=cluster)
        assert isinstance(backend, CliBackend)  # the table's "cli" entry
        return backend

    def remit(self) -> Remit:
        """The accounts and partitions schedsight may act on (empty: it acts on nothing)."""
        from hpc.slurm.remit import Remit

        return Remit.of(self.settings.slurm_accounts, self.settings.slurm_partitions)

    def backoff(self) -> Backoff:
        """How often, and how patiently, a Slurm call is retried when the daemon is silent."""
        from hpc.slurm.retry import Backoff

        return Backoff(attempts=self.settings.slurm_retries, first_s=0.5, factor=2.0, max_s=8.0)

    def live_source(
        self, kind: str | None = None, *, cluster: str | None = None,
        workload_id: int | None = None, store: Store | None = None, asked_by: str = "when",
    ) -> LiveSource:  # fmt: skip
        """Live answers about the settings' cluster (or `cluster`) through the backend they
        (or `kind`) name, from the store (opened here unless given); `asked_by` is stored
        with each prediction."""
        from schedsight.live import LiveSource

        backend = self.slurm_backend(kind, cluster=cluster)
        store = store or self.open_store()
        return LiveSource(backend, self.backoff(), store, workload_id, asked_by)

    def live_model(self, cluster: str) -> TrainedHistory | None:
        """The start-time model of `cluster` (trained here), or None when there is none."""
        return self.live_source(cluster=cluster).trained(cluster)[0]

    @staticmethod
    def keep_dashboard_answer(
        store: Store, answer: LiveAnswer, cluster: str, trained: TrainedHistory
    ) -> None:
        """Stores what the dashboard's Explain predicted for a live job (for its accuracy)."""
        from schedsight.accuracy import answer_prediction, store_predictions

        store_predictions(store, [answer_prediction(answer, cluster, trained, "dashboard")])

    def llm_config(self) -> LLMConfig:
        from agent.llm.config import LLMConfig

        s = self.settings
        return LLMConfig(
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=s.llm_api_key.get_secret_value() or "unused",
            timeout_s=s.llm_timeout_s,
            max_retries=s.llm_max_retries,
        )

    def dashboard_config(self) -> DashboardConfig:
        from dashboard.config import DashboardConfig

        s = self.settings
        return DashboardConfig(
            database_url=self.database_url,
            data_dir=s.data_dir,
            llm=self.llm_config(),
            answer_ttl_s=s.answer_ttl_s,
            slurm_backend=self.slurm_backend,
            live_model=self.live_model,
            remit=self.remit(),
            backoff=self.backoff(),
            admin_token=s.admin_token,
            source=s.dashboard_source,
            jobs=s.dashboard_jobs,
            seed=s.dashboard_seed,
            procs=s.dashboard_procs,
            user_header=s.dashboard_user_header,
            keep_answer=self.keep_dashboard_answer,
        )


def wiring_of(args: argparse.Namespace) -> Wiring:
    """The wiring `main` put on the parsed arguments."""
    wiring = getattr(args, "wiring", None)
    if not isinstance(wiring, Wiring):
        raise TypeError("no wiring on the arguments: commands run through schedsight.cli.main")
    return wiring
