"""Trained start-time predictors, stored once per workload version, feature version and
training parameters, and read back by `predict`, `explain`, `alternatives`, the dashboard
and the API instead of retraining (`db/trained.py`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trained_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("lineage", sa.String(length=256), nullable=False),
        sa.Column("workload_id", sa.Integer(), nullable=True),
        sa.Column("history", sa.String(length=64), nullable=False),
        sa.Column("feature_version", sa.Integer(), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("job_count", sa.Integer(), nullable=False),
        sa.Column("train_rows", sa.Integer(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=True),
        sa.Column("refreshes", sa.Integer(), nullable=False),
        sa.Column("train_s", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["workload_id"], ["workloads.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["base_id"], ["trained_models.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_trained_models_lineage", "trained_models", ["lineage"])


def downgrade() -> None:
    op.drop_index("ix_trained_models_lineage", table_name="trained_models")
    op.drop_table("trained_models")
