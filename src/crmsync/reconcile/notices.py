"""Refusals and warnings as data: what stops an apply and what a plan wants a person to know,
each with a kind and its numbers. Pure.

The pure core never words a refusal for one audience: it does not know whether a person at a
terminal, a webhook, an alert or a JSON reader gets it. `str()` is a neutral sentence naming the
numbers; each entry point adds its own hint (the CLI names its flags, `serve` logs the kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RefusalKind(StrEnum):
    """Why an apply refuses (exit 3 at the CLI); nothing is written."""

    MASS_CHANGE_SHARE = "mass-change-share"  # deletes + downgrades over the share of owned overrides
    MASS_CHANGE_COUNT = "mass-change-count"  # deletes + downgrades over the absolute count
    DRIFT_FAIL = "drift-fail"  # an owned override edited by hand under `drift: fail`
    UNMANAGED = "unmanaged"  # the plan writes what the ledger no longer lets crmsync touch
    STALE_PLAN = "stale-plan"  # a saved plan whose live overrides changed since it was made
    ALREADY_APPLIED = "already-applied"  # a saved plan another run has applied
    BEING_APPLIED = "being-applied"  # a saved plan another process is applying right now
    LEDGER_UNKNOWN = "ledger-unknown"  # an empty ledger facing overrides that carry crmsync's marker
    READ_ONLY_STATE = "read-only-state"  # the state database cannot record ownership before writes


class WarningKind(StrEnum):
    """What a plan reports without refusing."""

    PARTIAL_READ = "partial-read"  # a CRM read ended early: its deletes and downgrades are withheld
    SOURCE_SHRUNK = "source-shrunk"  # a CRM returned suspiciously few deals: its deletes are withheld
    NOTHING_COUNTED = "nothing-counted"  # deals read, none in the mapping's stages
    ENTITLEMENT = "entitlement"  # an override the company's plan makes pointless (or that revokes)
    ENTITLEMENTS_UNREAD = "entitlements-unread"  # a plan's entitlements could not be read
    ENTITLEMENTS_UNJUDGED = "entitlements-unjudged"  # a company on no plan (or no version): not compared
    UNKNOWN_MARKERS = "unknown-markers"  # overrides carry crmsync's marker the ledger does not know
    GUARD_WINDOW = "guard-window"  # with the window's earlier deletes and downgrades, too many: withheld
    OTHER = "other"


MASS_CHANGE = frozenset({RefusalKind.MASS_CHANGE_SHARE, RefusalKind.MASS_CHANGE_COUNT})


@dataclass(frozen=True)
class Refusal:
    """One reason an apply is refused, with its numbers and the overrides it names."""

    kind: RefusalKind
    message: str  # neutral: numbers and names, no command or flag
    affected: int = 0
    owned: int = 0
    limit: float = 0.0
    overrides: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        """For `plan --json` / `apply --json` and the run history."""
        doc: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.kind in MASS_CHANGE:
            doc |= {"affected": self.affected, "owned": self.owned, "limit": self.limit}
        if self.overrides:
            doc["overrides"] = list(self.overrides)
        return doc


@dataclass(frozen=True)
class PlanWarning:
    """Something a plan wants known; `source` and the withheld counts when the kind has them."""

    kind: WarningKind
    message: str
    source: str | None = None
    withheld: dict[str, int] = field(default_factory=dict, compare=False)  # {"delete": n, "downgrade": m}

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        """For `plan --json` and the run history."""
        doc: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.source:
            doc["source"] = self.source
        if self.withheld:
            doc["withheld"] = dict(self.withheld)
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> PlanWarning:
        """A warning from a saved plan (a bare string from an older plan file is kept as `other`)."""
        if isinstance(doc, dict):
            try:
                kind = WarningKind(str(doc.get("kind")))
            except ValueError:
                kind = WarningKind.OTHER
            withheld = doc.get("withheld")
            return cls(
                kind,
                str(doc.get("message", "")),
                doc.get("source") if isinstance(doc.get("source"), str) else None,
                {k: v for k, v in withheld.items() if isinstance(v, int)} if isinstance(withheld, dict) else {},
            )
        return cls(WarningKind.OTHER, str(doc))
