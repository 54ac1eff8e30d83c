"""Runs judged by the database's clock: each run records a heartbeat (`runs.heartbeat_at`, the
database's time) and the lease it works under (`runs.lease_s`), so a run killed on any host is
closed as interrupted once its heartbeat is older than its lease.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("lease_s")
        batch_op.drop_column("heartbeat_at")
