"""The console's reads of the state database: keyset-paged runs, owned overrides and companies,
filtered in SQL, each page fetched as `limit + 1` rows (the extra row says there is a next page).

Mixed into `Store`; called only by service/console_reads.py. Row-value comparisons work on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, tuple_
from sqlmodel import Session, col, select

from crmsync.domain import LedgerState
from crmsync.store.tables import KnownCompany, OwnedOverride, RunRecord

MAX_PAGE = 500  # rows one page may ask for


@dataclass(frozen=True)
class LedgerRow:
    """One row of the ownership ledger, with the company's name when known."""

    id: int
    override_id: str | None
    company_id: str
    company: str
    feature_id: str
    sources: str
    status: str
    value: dict[str, Any]
    updated_at: datetime

    @property
    def shown(self) -> str:
        """The value as a person reads it: `on`, `50`, `50 per month`, with its expiry."""
        v = self.value
        kind = v.get("value_type")
        if kind == "boolean":
            text = "on" if v.get("value_bool") else "off"
        elif kind == "numeric":
            number = v.get("value_numeric")
            text = "?" if number is None else f"{number:g}" if isinstance(number, int | float) else str(number)
        elif kind == "unlimited":
            text = "unlimited"
        elif kind == "trait":
            text = f"trait {v.get('value_trait_id')}"
        else:
            text = "?"
        if v.get("metric_period"):
            text += f" per {str(v['metric_period']).replace('current_', '')}"
        if v.get("expiration_date"):
            text += f" until {str(v['expiration_date'])[:10]}"
        return text


@dataclass(frozen=True)
class CompanyRow:
    """A company as the last run read it."""

    id: str
    name: str
    keys: dict[str, str]


class Browse:
    """Paged reads (mixed into `Store`)."""

    def _session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Store's

    def runs_page(
        self, *, before: int | None, limit: int, status: str = "", trigger: str = "", actor: str = ""
    ) -> list[RunRecord]:
        """Runs newest first, older than run `before`; filters are exact (trigger: a prefix)."""
        query = select(RunRecord)
        if before is not None:
            query = query.where(col(RunRecord.id) < before)
        if status:
            query = query.where(RunRecord.status == status)
        if trigger:
            query = query.where(col(RunRecord.trigger).startswith(trigger, autoescape=True))
        if actor:
            query = query.where(RunRecord.actor == actor)
        with self._session() as s:
            rows = s.exec(query.order_by(col(RunRecord.id).desc()).limit(min(limit, MAX_PAGE) + 1)).all()
            s.expunge_all()
            return list(rows)

    def run(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        with self._session() as s:
            row = s.get(RunRecord, run_id)
            s.expunge_all()
            return row

    def ledger_page(self, *, after: int | None, limit: int, company: str = "", feature: str = "") -> list[LedgerRow]:
        """Ledger rows (managed and released) by id; `company` matches an id exactly or a name in part,
        `feature` an id in part."""
        query = select(OwnedOverride, KnownCompany.name).join(
            KnownCompany, col(KnownCompany.id) == col(OwnedOverride.company_id), isouter=True
        )
        query = query.where(col(OwnedOverride.status) != LedgerState.DELETED)
        if after is not None:
            query = query.where(col(OwnedOverride.id) > after)
        if company:
            pattern = f"%{company.lower()}%"
            query = query.where(
                or_(col(OwnedOverride.company_id) == company, func.lower(col(KnownCompany.name)).like(pattern))
            )
        if feature:
            query = query.where(col(OwnedOverride.feature_id).contains(feature, autoescape=True))
        with self._session() as s:
            rows = s.exec(query.order_by(col(OwnedOverride.id)).limit(min(limit, MAX_PAGE) + 1)).all()
            return [_ledger_row(o, name) for o, name in rows]

    def ledger_batches(
        self, *, company: str = "", feature: str = "", batch: int = MAX_PAGE
    ) -> Iterator[list[LedgerRow]]:
        """Every ledger row the filters keep, in keyset batches (the CSV export streams them)."""
        batch = min(batch, MAX_PAGE)  # a page holds no more: a bigger batch would end the walk early
        after: int | None = None
        while True:
            page = self.ledger_page(after=after, limit=batch, company=company, feature=feature)
            yield page[:batch]
            if len(page) <= batch:
                return
            after = page[batch - 1].id

    def companies_page(self, *, text: str, after: tuple[str, str] | None, limit: int) -> list[CompanyRow]:
        """Companies by name then id whose id, name (in part) or a key value matches `text`."""
        query = select(KnownCompany)
        if text:
            pattern = f"%{text.lower()}%"
            query = query.where(
                or_(
                    col(KnownCompany.id) == text,
                    func.lower(col(KnownCompany.name)).like(pattern),
                    col(KnownCompany.keys_json).contains(f'"{text}"', autoescape=True),
                )
            )
        if after is not None:
            query = query.where(tuple_(col(KnownCompany.name), col(KnownCompany.id)) > tuple_(*after))
        with self._session() as s:
            rows = s.exec(query.order_by(col(KnownCompany.name), col(KnownCompany.id)).limit(min(limit, MAX_PAGE) + 1))
            return [CompanyRow(r.id, r.name, json.loads(r.keys_json)) for r in rows.all()]

    def company(self, company_id: str) -> CompanyRow | None:
        """One known company by id."""
        with self._session() as s:
            row = s.get(KnownCompany, company_id)
            return CompanyRow(row.id, row.name, json.loads(row.keys_json)) if row else None

    def counts(self) -> dict[str, int]:
        """How many companies are known and how many overrides crmsync manages."""
        with self._session() as s:
            companies = s.exec(select(func.count()).select_from(KnownCompany)).one()
            owned = s.exec(
                select(func.count()).select_from(OwnedOverride).where(col(OwnedOverride.status) == LedgerState.ACTIVE)
            ).one()
            return {"companies": int(companies), "owned": int(owned)}


def _ledger_row(o: OwnedOverride, name: str | None) -> LedgerRow:
    assert o.id is not None
    try:
        value = json.loads(o.value_json)
    except ValueError:
        value = {}
    return LedgerRow(o.id, o.override_id, o.company_id, name or o.company_id, o.feature_id, o.sources, o.status,
                     value if isinstance(value, dict) else {}, o.updated_at)  # fmt: skip
