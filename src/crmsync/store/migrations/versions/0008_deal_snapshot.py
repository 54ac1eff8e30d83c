"""The deal snapshot: every reconcile that reads deals keeps a copy here (a row per deal, written only
when it changed), so a mapping preview answers without reading the CRM again (store/snapshot.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deal_snapshot",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("company_ref", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "deal_id"),
    )
    with op.batch_alter_table("deal_snapshot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_snapshot_company_ref"), ["company_ref"], unique=False)
    op.create_table(
        "deal_snapshot_sources",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("query_json", sa.String(), nullable=False),
        sa.Column("full_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("deal_snapshot_sources")
    with op.batch_alter_table("deal_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_snapshot_company_ref"))
    op.drop_table("deal_snapshot")
