"""The one settings object: environment (`SCHEDSIGHT_*`), then CLI flags on top.

Defaults are safe: data stays in the user's data directory and services bind to localhost.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(user_data_dir("schedsight", appauthor=False))


def _default_traces_dir() -> Path:
    # A checkout keeps the shared traces beside it (../shared/traces).
    return Path(__file__).resolve().parents[2] / "shared" / "traces"


class Settings(BaseSettings):
    """Validated configuration; build it once in the composition root and pass it down."""

    model_config = SettingsConfigDict(env_prefix="SCHEDSIGHT_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    traces_dir: Path = Field(default_factory=_default_traces_dir)
    bind_host: str = "127.0.0.1"
    # Empty: a SQLite file in data_dir. PostgreSQL: postgresql+psycopg://user@host/db
    # (put any password in the environment, never in a file that is committed).
    database_url: str = ""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+pysqlite:///{self.data_dir / 'schedsight.db'}"

    @field_validator("bind_host")
    @classmethod
    def _local_unless_explicit(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("bind_host must not be empty (use 127.0.0.1 for local-only)")
        return value.strip()
