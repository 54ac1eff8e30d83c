"""The mass-change guard's window: the overrides each run deleted or downgraded (booked before its
writes, settled after), so every run of the last hour is judged together across processes
(store/guard_window.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guard_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("booking", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("feature_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guard_window", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guard_window_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guard_window", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guard_window_at"))
    op.drop_table("guard_window")
