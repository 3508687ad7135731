"""The exceptions of the persistence layer, one small tree.

DbError                  base of everything `db` raises on purpose
├── NotFoundError             no row with that id (names the entity and id)
├── SchemaOutOfDateError      the database needs `schedsight db upgrade`
└── AppendOnlyError           an attempt to change or delete an audit-log entry
"""

from __future__ import annotations


class DbError(Exception):
    """Base class: a persistence problem with a message that says what to do."""


class NotFoundError(DbError):
    def __init__(self, entity: str, key: object) -> None:
        self.entity, self.key = entity, key
        super().__init__(f"no {entity} with id {key}")


class SchemaOutOfDateError(DbError):
    """The database schema is missing or older than this code."""


class AppendOnlyError(DbError):
    """The audit log only grows: entries cannot be edited or deleted."""
