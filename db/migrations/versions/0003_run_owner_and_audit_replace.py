"""Run owners and heartbeats (stale `running` runs can be detected); REPLACE guard on audit_log.

SQLite's REPLACE INTO (and INSERT OR REPLACE) deletes the old row without firing DELETE
triggers unless recursive_triggers is on, so a new row could silently take an old entry's
id. A BEFORE INSERT trigger refuses any insert of an id that already exists, for every
client, whatever its pragmas. PostgreSQL has no REPLACE; its UPSERT fires the UPDATE trigger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("simulation_runs") as batch:
        batch.add_column(sa.Column("owner_host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("owner_instance", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
            "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
    with op.batch_alter_table("simulation_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner_instance")
        batch.drop_column("owner_pid")
        batch.drop_column("owner_host")
