"""Alembic environment: runs migrations on the connection schedsight hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from db.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    from db.session import make_engine

    with make_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        run(conn)
else:
    run(connection)
