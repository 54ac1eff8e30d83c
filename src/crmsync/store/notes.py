"""The note crmsync last wrote on each override it manages, as the ledger stored it (for
`crmsync owned`, which reads the source deals back from it). Read-only."""

from __future__ import annotations

from sqlmodel import select

from crmsync.store.repository import Store
from crmsync.store.tables import OwnedOverride


def ledger_notes(store: Store) -> dict[str, str]:
    """Each ledger row's note by its token ("" when none was stored)."""
    with store._session() as s:  # the store's own session: its errors are translated
        return {row.token: row.note for row in s.exec(select(OwnedOverride)).all()}
