"""The state database's migrations (Alembic): env.py, script.py.mako and versions/.

`crmsync.store.schema` runs them on start and for `crmsync db upgrade`. `HEAD` is the newest
revision, so a database already at head is recognised with one query and without importing Alembic;
a test checks it against versions/, so a new migration that forgets to move it fails CI.
"""

from __future__ import annotations

from pathlib import Path

HEAD = "0009"  # the newest revision in versions/ (move it with every new migration)
BASELINE = "0001"  # the schema crmsync created with create_all before it had migrations
SCRIPT_LOCATION = Path(__file__).parent
