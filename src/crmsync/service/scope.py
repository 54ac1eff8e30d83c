"""The companies a scoped `plan`/`apply --company C …` covers: each `C` a Schematic id (`comp_…`) or a
`key=value` (looked up as `explain` does), every one checked to exist before anything is planned."""

from __future__ import annotations

from collections.abc import Sequence

from crmsync.domain import CompanyId
from crmsync.errors import CrmsyncError
from crmsync.service.context import Context
from crmsync.service.explain import company_id_of


def resolve_scope(ctx: Context, texts: Sequence[str] | None) -> frozenset[CompanyId] | None:
    """The company ids `texts` name (None: no `--company`, so every company); CrmsyncError (exit 1)
    naming the first that no Schematic company matches."""
    if not texts:
        return None
    ids = {text: company_id_of(ctx.schematic, text) for text in texts}
    known = {c.id for c in ctx.schematic.list_companies(set(ids.values()))}
    for text, company_id in ids.items():
        if company_id not in known:
            raise CrmsyncError(
                f"no Schematic company {text.strip()!r}; give its id (comp_…) or a key, e.g. hubspot_company_id=5001"
            )
    return frozenset(ids.values())
