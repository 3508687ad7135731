"""Predictions of live jobs' starts (`schedsight when`, the API, `slurm status`) kept for their
accuracy: the cluster and job, when asked, the likely window, the forward plan's and Slurm's
own starts and the model, beside the existing band and outcome (`db/predictions.py`). p10 and
p90 become optional: `slurm status` shows the median only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_FLOATS = (
    "likely_from_s",
    "likely_to_s",
    "likely_chance",
    "plan_start_s",
    "slurm_start_s",
)


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("partition", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("asked_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("made_s", sa.BigInteger(), nullable=True))
        for name in _FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("model_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_predictions_model_id", "trained_models", ["model_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.alter_column("p10_s", existing_type=sa.Float(), nullable=True)
        batch_op.alter_column("p90_s", existing_type=sa.Float(), nullable=True)
        batch_op.create_index("ix_predictions_cluster_job", ["cluster", "job_id"])


def downgrade() -> None:
    op.execute("DELETE FROM predictions WHERE p10_s IS NULL OR p90_s IS NULL")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_predictions_cluster_job")
        batch_op.alter_column("p90_s", existing_type=sa.Float(), nullable=False)
        batch_op.alter_column("p10_s", existing_type=sa.Float(), nullable=False)
        batch_op.drop_constraint("fk_predictions_model_id", type_="foreignkey")
        batch_op.drop_column("model_id")
        for name in reversed(_FLOATS):
            batch_op.drop_column(name)
        for name in ("made_s", "asked_by", "partition", "job_id", "cluster"):
            batch_op.drop_column(name)
