"""Rate budgets shared by every process on this state database: one token bucket per budget
(`schematic.writes`, `hubspot.searches`; store/budget.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,  # a database a pre-migration crmsync gave the table on first use
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
