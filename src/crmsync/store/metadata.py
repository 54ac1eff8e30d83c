"""Every table of the state database on one metadata, for migrations and their tests: the ledger
and runs (tables.py), the shared rate buckets (budget_tables.py) and serve's intake
(intake_tables.py), the deal snapshot (snapshot_tables.py), the guard's window (guard_tables.py). A new
table module is added here.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from crmsync.store import budget_tables, guard_tables, intake_tables, snapshot_tables, tables

MODULES = (tables, budget_tables, intake_tables, snapshot_tables, guard_tables)
METADATA = SQLModel.metadata
