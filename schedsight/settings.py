"""The one settings object: environment (`SCHEDSIGHT_*`), then CLI flags on top.

Defaults are safe: data stays in the user's data directory and services bind to localhost.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dashboard.config import JOBS_RANGE, PROCS_RANGE, SEED_RANGE

ENV_PREFIX = "SCHEDSIGHT_"
MIN_TOKEN_CHARS = 32  # an API token shorter than this could be guessed


class SettingsError(ValueError):
    """The environment (or the values given) do not make valid settings; one line per field,
    naming the variable and the rule, never the value (which may hold or sit next to a secret).
    """


def _default_data_dir() -> Path:
    return Path(user_data_dir("schedsight", appauthor=False))


def _default_traces_dir() -> Path:
    # A checkout keeps the shared traces beside it (../shared/traces).
    return Path(__file__).resolve().parents[2] / "shared" / "traces"


class Settings(BaseSettings):
    """Validated configuration; build it once in the composition root and pass it down."""

    # hide_input_in_errors: pydantic would print the input otherwise, and the input of a
    # model-level check is every setting at once, secrets included.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore",
                                      hide_input_in_errors=True)  # fmt: skip

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(settings_error_text(exc)) from None

    data_dir: Path = Field(default_factory=_default_data_dir)
    traces_dir: Path = Field(default_factory=_default_traces_dir)
    bind_host: str = "127.0.0.1"
    # Empty: a SQLite file in data_dir. PostgreSQL: postgresql+psycopg://user@host/db
    # (put any password in the environment, never in a file that is committed).
    database_url: str = ""
    # The agent's language model: empty base URL = the embedded model on a local server
    # started on demand; any OpenAI-compatible /v1 URL otherwise (vLLM, a hosted API).
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")  # from the environment only; a local server needs none
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=10)
    # How long the dashboard reuses a what-if answer for the same question and cluster state
    # (agent/cache/answers.py); 0 turns reuse off.
    answer_ttl_s: float = Field(default=300.0, ge=0)
    # Who may approve the agent's proposals in the dashboard (environment only; empty: nobody).
    admin_token: SecretStr = SecretStr("")
    # The dashboard's first view (`schedsight dashboard --source/--jobs/--seed/--procs`).
    dashboard_source: Literal["simulated", "slurm"] = "simulated"
    dashboard_jobs: int = Field(default=2000, ge=JOBS_RANGE[0], le=JOBS_RANGE[1])
    dashboard_seed: int = Field(default=7, ge=SEED_RANGE[0], le=SEED_RANGE[1])
    dashboard_procs: int = Field(default=256, ge=PROCS_RANGE[0], le=PROCS_RANGE[1])
    # The dashboard's "My jobs" page names its user from this request header, set by the
    # authenticating proxy in front of it (e.g. REMOTE_USER, as for the API); empty: no
    # header is trusted, and the page says so.
    dashboard_user_header: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")

    # The portal API (`schedsight serve-api`). The token comes from the environment only
    # (SCHEDSIGHT_API_TOKEN, at least 32 characters); without one the server starts only on
    # a loopback address with --no-auth. The user header (e.g. REMOTE_USER behind Open
    # OnDemand's proxy) is trusted only when named here; admins see every job.
    api_token: SecretStr = SecretStr("")
    api_port: int = Field(default=8742, ge=1, le=65535)
    api_user_header: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    api_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Slurm. The remit (accounts and partitions schedsight may act on) is empty by default,
    # which refuses every action: set both, comma-separated. The JWT comes from the
    # environment only (SCHEDSIGHT_SLURM_JWT, e.g. from `scontrol token`).
    slurm_backend: Literal["cli", "rest", "pyslurm"] = "cli"
    slurm_accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    slurm_partitions: Annotated[list[str], NoDecode] = Field(default_factory=list)
    slurm_rest_url: str = "unix:/run/slurmrestd/slurmrestd.sock"
    slurm_rest_user: str = ""
    slurm_jwt: SecretStr | None = None
    slurm_timeout_s: float = Field(default=30.0, gt=0)
    slurm_retries: int = Field(default=5, ge=1, le=20)
    # The cli backend runs every Slurm command through this prefix, split like a shell line
    # but run as an argument vector (never a shell): "ssh login1", "chroot /srv/slurm-next".
    slurm_command_prefix: str = ""
    # One cluster of a multi-cluster site (sacct/squeue --clusters); empty: the local one.
    slurm_cluster: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")

    # OpenMP offload (hpc.offload). Run directories must be on a file system the compute
    # nodes share; empty: data_dir/offload. The GPU architecture goes to the compiler
    # (sm_80 for A100/H100-class NVIDIA, gfx90a for MI250X). DiOMP paths are empty until a
    # site installs it: `schedsight offload check --runtime diomp` says what is missing.
    offload_dir: Path | None = None
    offload_gpu_arch: str = Field(default="sm_80", pattern=r"^[A-Za-z0-9_]+$")
    offload_gpu_vendor: Literal["nvidia", "amd"] = "nvidia"
    offload_gpu_type: str | None = None  # Slurm GRES type (e.g. a100); None: any GPU
    diomp_home: Path | None = None
    diomp_gasnet_home: Path | None = None
    diomp_gasnet_conduit: str = Field(default="ibv", pattern=r"^[a-z0-9]+$")
    diomp_nccl_home: Path | None = None
    diomp_clang: str = "clang"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+pysqlite:///{self.data_dir / 'schedsight.db'}"

    @field_validator("slurm_accounts", "slurm_partitions", "api_admins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("api_token")
    @classmethod
    def _token_long_enough(cls, token: SecretStr) -> SecretStr:
        if 0 < len(token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"must be at least {MIN_TOKEN_CHARS} characters (`openssl rand -hex 32`)"
            )
        return token

    @field_validator("slurm_command_prefix")
    @classmethod
    def _prefix_splits(cls, value: str) -> str:
        try:
            shlex.split(value)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"cannot be split into arguments ({exc})") from None
        return value

    def command_prefix(self) -> tuple[str, ...]:
        """`slurm_command_prefix` as the argument vector it stands for."""
        return tuple(shlex.split(self.slurm_command_prefix))

    @field_validator("slurm_rest_url")
    @classmethod
    def _jwt_stays_local(cls, url: str) -> str:
        if url.startswith("unix:"):
            return url
        # The URL is not echoed: it may carry user:password@, and errors end up in logs.
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
        except ValueError:  # an unbalanced [ or a bad port
            raise ValueError("must be unix:/path or http(s)://host:port") from None
        if parts.scheme not in ("http", "https") or not hostname:
            raise ValueError("must be unix:/path or http(s)://host:port")
        if parts.scheme == "http" and hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                "would send the JWT in clear text off this machine: "
                "use https:// or a loopback address"
            )
        return url

    @field_validator("bind_host")
    @classmethod
    def _local_unless_explicit(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("bind_host must not be empty (use 127.0.0.1 for local-only)")
        return value.strip()


def settings_error_text(exc: ValidationError) -> str:
    """One line per bad setting, `SCHEDSIGHT_X (x): rule`; input values are never shown."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        where = f"{ENV_PREFIX}{field.upper()} ({field})" if field else "settings"
        lines.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "invalid settings: " + "\n  ".join(lines)
