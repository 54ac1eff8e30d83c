"""Exclusion between processes: leases, one live ledger row per company+feature, saved plans applied once.

- `leases`: a named lease (`company:comp_…`, `plan:<checksum>`) with its holder and expiry (store/leases.py).
- `owned_overrides`: a unique index over (company_id, feature_id) for the live states (intent, active).
  Two processes could create the same override before this revision; such pairs are kept managed: the
  newest live row stays, the others become `duplicate` (still owned, so the next apply deletes the
  extra override instead of leaving it unowned).
- `runs.plan_checksum`: the saved plan a run applied, so a second `apply FILE` is refused as already applied.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "status IN ('intent', 'active')"


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(
        "UPDATE owned_overrides SET status = 'duplicate' WHERE status IN ('intent', 'active') AND id NOT IN "
        "(SELECT MAX(id) FROM owned_overrides WHERE status IN ('intent', 'active') GROUP BY company_id, feature_id)"
    )
    op.create_index(
        "ux_owned_overrides_live_pair",
        "owned_overrides",
        ["company_id", "feature_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("plan_checksum", sa.String(length=80), nullable=True))
        batch.create_index("ix_runs_plan_checksum", ["plan_checksum"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_plan_checksum")
        batch.drop_column("plan_checksum")
    op.drop_index("ux_owned_overrides_live_pair", table_name="owned_overrides")
    op.execute("UPDATE owned_overrides SET status = 'active' WHERE status = 'duplicate'")
    op.drop_table("leases")
