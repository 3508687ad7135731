"""The store: one engine and its session factory, opened on a database URL.

Opening checks the schema. The embedded SQLite database creates and migrates its own schema
on first use; a PostgreSQL one is shared and owned by an admin, so it is migrated only by an
explicit `schedsight db upgrade`. Opening also closes what dead processes left open: runs
still `running` whose owner is gone are marked failed ("process ended without finishing").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.migrate import current_revision, head_revision, require_current, upgrade
from db.runs import fail_stale_runs
from db.session import make_engine, session_factory, transaction


@dataclass(slots=True)
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str, *, check_schema: bool = True) -> Store:
        """The store at `url`; with `check_schema`, refuse a stale schema (SQLite: migrate it)."""
        engine = make_engine(url)
        store = cls(engine, session_factory(engine))
        if check_schema:
            if engine.dialect.name == "sqlite" and current_revision(engine) != head_revision():
                upgrade(engine)  # serialised by SQLite's write lock (BEGIN IMMEDIATE)
            require_current(engine)
            with transaction(store.sessions) as session:
                fail_stale_runs(session)
        return store
