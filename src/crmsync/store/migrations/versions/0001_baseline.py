"""The schema crmsync shipped before it had migrations: ledger, runs, run changes, cursors, source counts.

Frozen: it is what `SQLModel.metadata.create_all` made from store/tables.py until then, so a database
made that way is stamped at this revision (crmsync.store.schema) and upgraded from here.
Never edit it; change the schema with a new revision (see README.md in this folder).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "owned_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("override_id", sa.String(length=64), nullable=True),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("feature_id", sa.String(length=64), nullable=False),
        sa.Column("sources", sa.String(length=64), nullable=False),
        sa.Column("value_json", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_owned_overrides_token", "owned_overrides", ["token"], unique=True)
    op.create_index("ix_owned_overrides_override_id", "owned_overrides", ["override_id"], unique=True)
    op.create_index("ix_owned_overrides_company_id", "owned_overrides", ["company_id"])
    op.create_index("ix_owned_overrides_status", "owned_overrides", ["status"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary_json", sa.String(), nullable=False),
        sa.Column("errors_json", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "run_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("feature_id", sa.String(length=64), nullable=False),
        sa.Column("override_id", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_changes_run_id", "run_changes", ["run_id"])
    op.create_table(
        "cursors",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "source_counts",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    for table in ("source_counts", "cursors", "run_changes", "runs", "owned_overrides"):
        op.drop_table(table)
