"""The state database's DDL as crmsync shipped it before migrations: what `SQLModel.metadata.create_all`
emitted for store/tables.py then, on SQLite and PostgreSQL. Frozen: the migration tests build a
previous-version database from it."""

from __future__ import annotations

from sqlalchemy import Engine, text

TABLES = {
    "owned_overrides": """(id {serial} NOT NULL, token VARCHAR(64) NOT NULL, override_id VARCHAR(64),
        company_id VARCHAR(64) NOT NULL, feature_id VARCHAR(64) NOT NULL, sources VARCHAR(64) NOT NULL,
        value_json VARCHAR NOT NULL, note VARCHAR NOT NULL, status VARCHAR(16) NOT NULL,
        created_at {when} NOT NULL, updated_at {when} NOT NULL, PRIMARY KEY (id))""",
    "runs": """(id {serial} NOT NULL, command VARCHAR(32) NOT NULL, "trigger" VARCHAR(32) NOT NULL,
        started_at {when} NOT NULL, finished_at {when}, status VARCHAR(16) NOT NULL,
        summary_json VARCHAR NOT NULL, errors_json VARCHAR NOT NULL, PRIMARY KEY (id))""",
    "cursors": "(source VARCHAR(32) NOT NULL, value VARCHAR NOT NULL, updated_at {when} NOT NULL, "
    "PRIMARY KEY (source))",
    "source_counts": "(source VARCHAR(32) NOT NULL, deals INTEGER NOT NULL, updated_at {when} NOT NULL, "
    "PRIMARY KEY (source))",
    "run_changes": """(id {serial} NOT NULL, run_id INTEGER NOT NULL, action VARCHAR(16) NOT NULL,
        company_id VARCHAR(64) NOT NULL, feature_id VARCHAR(64) NOT NULL, override_id VARCHAR(64),
        ok BOOLEAN NOT NULL, message VARCHAR NOT NULL, PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES runs (id))""",
}
INDEXES = (
    "CREATE UNIQUE INDEX ix_owned_overrides_token ON owned_overrides (token)",
    "CREATE INDEX ix_owned_overrides_company_id ON owned_overrides (company_id)",
    "CREATE UNIQUE INDEX ix_owned_overrides_override_id ON owned_overrides (override_id)",
    "CREATE INDEX ix_owned_overrides_status ON owned_overrides (status)",
    "CREATE INDEX ix_run_changes_run_id ON run_changes (run_id)",
)


def create_legacy_schema(engine: Engine) -> None:
    """Make the tables exactly as the version before migrations did (no alembic_version)."""
    postgres = engine.dialect.name == "postgresql"
    types = {
        "serial": "SERIAL" if postgres else "INTEGER",
        "when": "TIMESTAMP WITH TIME ZONE" if postgres else "DATETIME",
    }
    with engine.begin() as conn:
        for name, columns in TABLES.items():
            conn.execute(text(f"CREATE TABLE {name} {columns.format(**types)}"))
        for statement in INDEXES:
            conn.execute(text(statement))
