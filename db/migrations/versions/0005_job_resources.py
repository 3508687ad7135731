"""Per-job resources of workloads imported from Slurm (GPUs, account, QOS, nodes), which
SWF has no columns for; the site replay reads them (`schedsight simulate workload:ID --site`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workload_job_resources",
        sa.Column("workload_id", sa.Integer(), nullable=False),
        sa.Column("job_number", sa.BigInteger(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("qos", sa.String(length=128), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workload_id"], ["workloads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workload_id", "job_number"),
    )


def downgrade() -> None:
    op.drop_table("workload_job_resources")
