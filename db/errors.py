"""The exceptions of the persistence layer, one small tree, and how driver errors join it.

DbError                  base of everything `db` raises on purpose
├── NotFoundError             no row with that id or name (names it, and what there is)
├── SchemaOutOfDateError      the database needs `schedsight db upgrade`
├── AppendOnlyError           an attempt to change or delete an audit-log entry
├── InvalidValueError         a value the schema cannot hold (too long, out of range)
└── DatabaseError             the database itself failed: names where, never SQL parameters
    ├── BadUrlError               SCHEDSIGHT_DATABASE_URL is not a usable database URL
    ├── ConnectFailedError        no connection (server down, no such database, bad file)
    └── OperationFailedError      a statement failed (read-only file, no privilege, ...)

Every SQLAlchemy or driver error is turned into a DatabaseError where it happens (the
engine's `handle_error` hook, see `db.session`), so callers catch one tree.
"""

from __future__ import annotations


class DbError(Exception):
    """Base class: a persistence problem with a message that says what to do."""


class NotFoundError(DbError):
    """No such row; `message` replaces the default where a name, not an id, was asked for."""

    def __init__(self, entity: str, key: object, message: str | None = None) -> None:
        self.entity, self.key = entity, key
        super().__init__(message or f"no {entity} with id {key}")


class SchemaOutOfDateError(DbError):
    """The database schema is missing or older than this code."""


class AppendOnlyError(DbError):
    """The audit log only grows: entries cannot be edited or deleted."""


class InvalidValueError(DbError):
    """A value the schema cannot store; refused before it reaches the database."""


class DatabaseError(DbError):
    """The database failed; `where` is its URL with the password hidden."""

    def __init__(self, message: str, *, where: str) -> None:
        self.where = where
        super().__init__(message)


class BadUrlError(DatabaseError):
    """The URL names no database this code can open."""


class ConnectFailedError(DatabaseError):
    """No connection could be made."""


class OperationFailedError(DatabaseError):
    """Connected, but a statement failed."""


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only: later lines (PostgreSQL's DETAIL) may
    quote row values, and SQLAlchemy's wrapper adds the statement and its parameters."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def from_driver(exc: BaseException, *, where: str, connecting: bool) -> DbError:
    """The DbError for a driver exception `exc` met on the database `where`."""
    reason = first_line(exc)
    low = reason.lower()
    if "append-only" in low:
        return AppendOnlyError(
            "the audit log is append-only: entries cannot be changed or deleted "
            f"(refused by the database {where})"
        )
    if "readonly" in low or "read-only" in low or "unable to open database file" in low:
        return OperationFailedError(
            f"cannot write to the database {where}: {reason}; make the database file and "
            "its directory writable for this user, or point SCHEDSIGHT_DATABASE_URL elsewhere",
            where=where,
        )
    if "permission denied" in low or "must be owner" in low:
        return OperationFailedError(
            f"the database {where} refused this role: {reason}; an administrator can grant "
            "the application's privileges with `schedsight db grant-app-role ROLE`",
            where=where,
        )
    if connecting:
        return ConnectFailedError(
            f"cannot connect to the database {where}: {reason}; check that the server is "
            "running, the database exists, and SCHEDSIGHT_DATABASE_URL is right",
            where=where,
        )
    return OperationFailedError(
        f"the database {where} refused the operation: {reason}", where=where
    )
