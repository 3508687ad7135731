"""A separate application role on PostgreSQL, so that the audit log's triggers hold.

The role that runs the migrations owns the tables, and an owner can `ALTER TABLE audit_log
DISABLE TRIGGER` or drop the table. The application should therefore connect as another
role with only what it needs: read and write on the working tables, SELECT and INSERT on
audit_log, SELECT on alembic_version. Run `grant_app_role` as the owner after every upgrade.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from db.errors import DbError, InvalidValueError
from db.models import AuditEntry, Base

APPEND_ONLY = {AuditEntry.__tablename__}


def app_role_grants(conn: Connection, role: str) -> list[str]:
    """The statements that give `role` the application's privileges in the current schema."""
    quote = conn.dialect.identifier_preparer.quote
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    who, where = quote(role), quote(schema)
    statements = [f"GRANT USAGE ON SCHEMA {where} TO {who}"]
    for table in Base.metadata.sorted_tables:
        name = f"{where}.{quote(table.name)}"
        statements.append(f"REVOKE ALL ON {name} FROM {who}")
        rights = "SELECT, INSERT" if table.name in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"GRANT {rights} ON {name} TO {who}")
    statements.append(f"REVOKE ALL ON {where}.alembic_version FROM {who}")
    statements.append(f"GRANT SELECT ON {where}.alembic_version TO {who}")
    # nextval() on the id sequences; nothing else about them
    statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {where} TO {who}")
    return statements


def grant_app_role(engine: Engine, role: str) -> list[str]:
    """Give the existing PostgreSQL `role` the application's privileges; the statements run.

    Run as the owner of the tables (the role that ran `schedsight db upgrade`).
    """
    where = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name != "postgresql":
        raise DbError(
            f"the database {where} is SQLite, which has no roles: protect the file with "
            "file permissions instead"
        )
    with engine.begin() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
            raise InvalidValueError(
                f"no role {role!r} on {where}: create it first, e.g. "
                f"CREATE ROLE {conn.dialect.identifier_preparer.quote(role)} LOGIN PASSWORD '...'"
            )
        owner = conn.execute(
            text(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log' "
                "AND schemaname = current_schema()"
            )
        ).scalar_one_or_none()
        if owner is None:
            raise DbError(
                f"the database {where} has no schedsight schema: run `schedsight db upgrade`"
            )
        powers = conn.execute(
            text(
                "SELECT rolsuper OR pg_has_role(:r, :o, 'MEMBER') FROM pg_roles WHERE rolname = :r"
            ),
            {"r": role, "o": owner},
        ).scalar_one()
        if powers:
            raise InvalidValueError(
                f"{role!r} owns the tables on {where} (or is a superuser or a member of their "
                f"owner {owner!r}), so it could disable the audit log's triggers: give the "
                "application a role of its own"
            )
        statements = app_role_grants(conn, role)
        for statement in statements:
            conn.execute(text(statement))
    return statements
