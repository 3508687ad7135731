"""The dashboard's configuration: one value built by its entry script (the composition root,
`schedsight/dashboard_app.py`) and read by the pages through `dashboard.context.config()`.

Light on purpose: the CLI checks its flags against these ranges without loading the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import SecretStr

    from agent.llm.client import LLMConfig
    from db.store import Store
    from hpc.predict.live_answer import LiveAnswer, TrainedHistory
    from hpc.slurm.backend import SlurmBackend
    from hpc.slurm.remit import Remit
    from hpc.slurm.retry import Backoff

Source = Literal["simulated", "slurm"]
SOURCES: tuple[Source, ...] = ("simulated", "slurm")
# What a what-if may ask for: the page's inputs take these ranges, and a shared link outside
# them is refused with a message (not a traceback from the widget).
JOBS_RANGE = (10, 200_000)
SEED_RANGE = (0, 1_000_000)
PROCS_RANGE = (1, 1_000_000)


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """Everything the pages need from outside: where data lives, the model, Slurm, the admin."""

    database_url: str  # SQLite creates and migrates its schema on first use
    data_dir: Path  # saved what-ifs go under it
    llm: LLMConfig
    answer_ttl_s: float  # what-if answers are reused this long (0: never)
    slurm_backend: Callable[[], SlurmBackend]
    remit: Remit
    backoff: Backoff
    admin_token: SecretStr  # empty: approvals are disabled
    source: Source = "simulated"  # what the Overview shows first
    jobs: int = 2000  # the generated workload
    seed: int = 7
    procs: int = 256
    # The live cluster's start-time model by cluster name (None: none); trained on first use.
    live_model: Callable[[str], TrainedHistory | None] | None = None
    # The request header naming the user for "My jobs" (set by a trusted proxy; "": none).
    user_header: str = ""
    # Stores what Explain predicted for a live job, so that its accuracy is tracked (None: not
    # stored): (store, answer, cluster, model).
    keep_answer: Callable[[Store, LiveAnswer, str, TrainedHistory], None] | None = None
