"""The ownership note crmsync writes on every override, in one place: `make_note` writes it (the
CRM, the deals, the rule, and the `[crmsync:<token>]` marker that finds a lost create again and
proves crmsync made the override); `note_token`, `note_sources` and `note_deals` read it back.
`release_note` is what `crmsync release` appends (`[crmsync-released:<token>]`), and `released_after`
reads it back, so a ledger rebuilt after state loss keeps a released override released. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from crmsync.domain import DesiredOverride, Source

NOTE_LIMIT = 900  # characters kept of a note before the marker (the long deal lists are cut with …)
NOTE_START = "Managed by crmsync from "
_NOTE_DEALS = re.compile(rf"\b({'|'.join(s.value for s in Source)}) deals? ([^;]+?)(?=; |$)")
TOKEN_MARK = "[crmsync:"  # then the token and "]": the marker at the end of every note crmsync writes
RELEASE_MARK = "[crmsync-released:"  # then the token and "]": `crmsync release` stopped managing it


def make_note(want: DesiredOverride, *, token: str | None) -> str:
    """The note on every override crmsync writes: crmsync, the CRM, the deals, the rule."""
    by_source: dict[str, list[str]] = {}
    for source, deal in want.provenance.deals:
        by_source.setdefault(source.value, []).append(deal)
    deals = "; ".join(f"{src} deal{'s' if len(ids) > 1 else ''} {', '.join(ids)}" for src, ids in by_source.items())
    rules = ", ".join(f"{r} ({r.feature})" for r in want.provenance.rules)
    note = f"Managed by crmsync from {deals}; rule {rules}. Change the deal, not this override."
    if len(note) > NOTE_LIMIT:
        note = note[: NOTE_LIMIT - 1] + "…"
    return f"{note} {TOKEN_MARK}{token}]" if token else note


def release_note(token: str) -> str:
    """The note `crmsync release` appends: it survives a lost state database (a rebuild reads it)."""
    return (
        "Released by crmsync: no longer managed; crmsync will not change or delete it "
        f"(crmsync adopt takes it back). {RELEASE_MARK}{token}]"
    )


def released_after(notes: Sequence[str], token: str) -> bool:
    """Whether a release note for `token` follows the newest note carrying crmsync's marker (notes oldest
    first): released, and not written by crmsync since."""
    marked = [i for i, n in enumerate(notes) if note_token(n)]
    after = notes[marked[-1] + 1 :] if marked else notes
    return any(f"{RELEASE_MARK}{token}]" in n for n in after)


def note_token(note: str) -> str | None:
    """The token crmsync put in a note, if any (the last marker: a note quoting another counts once)."""
    start = note.rfind(TOKEN_MARK)
    if start < 0:
        return None
    end = note.find("]", start)
    return note[start + len(TOKEN_MARK) : end] if end > 0 else None


def note_sources(note: str, sources: Collection[str]) -> tuple[str, ...]:
    """The CRMs (of `sources`) a crmsync note names: `Managed by crmsync from hubspot deal 1; salesforce
    deals 2, 3; rule …` → ("hubspot", "salesforce"). Unknown words are ignored."""
    start = note.find(NOTE_START)
    if start < 0:
        return ()
    found: list[str] = []
    for part in note[start + len(NOTE_START) :].split("; "):
        word = part.split(" ", 1)[0]
        if part.startswith("rule "):
            break
        if word in sources and word not in found:
            found.append(word)
    return tuple(found)


def note_deals(note: str) -> tuple[tuple[str, str], ...]:
    """The (source, deal id) pairs a crmsync note names, in order: `Managed by crmsync from hubspot deals
    1001, 1014; salesforce deal 006A; rule …` → hubspot 1001, hubspot 1014, salesforce 006A. A note cut
    short (…) gives the deals it still names whole; a person's note, none."""
    head = note.split("; rule ", 1)[0]
    pairs = [(src, d.strip()) for src, ids in _NOTE_DEALS.findall(head) for d in ids.split(",")]
    return tuple(dict.fromkeys(p for p in pairs if p[1] and "…" not in p[1]))
