"""Engines and sessions: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL, same code.

`SCHEDSIGHT_DATABASE_URL` picks the database; the default is a SQLite file in the user's
data directory. Sessions commit on success and roll back on any exception. The engine is
the store's boundary: every driver error leaves it as a `db.errors.DatabaseError` that
names the database (password hidden), never the SQL parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import BadUrlError, ConnectFailedError, from_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
URL_HINT = "use sqlite+pysqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE"


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def redacted(url: str | URL) -> str:
    """`url` as it may be shown to a user: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unparsable URL, not shown)"  # it could hold a password anywhere


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL mode, foreign keys and a busy timeout."""
    where = redacted(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadUrlError(
            f"SCHEDSIGHT_DATABASE_URL is not a database URL: {URL_HINT}", where=where
        ) from None
    try:
        engine = _create(parsed, where)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise BadUrlError(
            f"cannot open the database {where}: no driver for {parsed.drivername!r} "
            f"({type(exc).__name__}); {URL_HINT}",
            where=where,
        ) from None

    @event.listens_for(engine, "handle_error")
    def _to_db_error(ctx: ExceptionContext) -> None:
        if ctx.is_pre_ping:
            return  # the pool handles a dead pooled connection by reconnecting
        connecting = ctx.connection is None or ctx.is_disconnect
        raise from_driver(ctx.original_exception, where=where, connecting=connecting)

    return engine


def _create(parsed: URL, where: str) -> Engine:
    # hide_parameters: should a SQLAlchemy error escape anyway, it must not carry row values.
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    if (
        parsed.database
        and parsed.database != ":memory:"
        and not parsed.database.startswith("file:")
    ):
        folder = Path(parsed.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConnectFailedError(
                f"cannot create the folder {folder} for the database {where}: "
                f"{exc.strerror or exc}; create it or point SCHEDSIGHT_DATABASE_URL elsewhere",
                where=where,
            ) from None
    engine = create_engine(
        parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that a
    # writing transaction takes the lock up front instead of failing on upgrade.
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" hook above own transactions
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed if the block succeeds, rolled back otherwise."""
    with factory() as session, session.begin():
        yield session
