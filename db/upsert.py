"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL: get-or-create without races."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_if_absent(
    session: Session, table: Table, values: dict[str, Any], *, conflict: list[str]
) -> int | None:
    """Insert one row unless one with the same `conflict` columns exists; the new id or None."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(table.c.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    return None if new_id is None else int(new_id)
