"""The ledger against crmsync's markers (pure): an empty ledger facing marked overrides is flagged,
a rebuild takes back one override per pair, and a note's CRMs and token are read back."""

from __future__ import annotations

from crmsync.domain import CompanyId, FeatureId, OverrideId
from crmsync.reconcile.ledger_check import Marked, check_ledger, choose_rebuild
from crmsync.reconcile.note import note_sources, note_token, release_note, released_after

SOURCES = ("hubspot", "salesforce")


def marked(ident: str, company: str = "comp_a", feature: str = "feat_a", token: str = "") -> Marked:
    return Marked(OverrideId(ident), CompanyId(company), FeatureId(feature), token or f"t-{ident}", "note")


def test_an_empty_ledger_facing_marked_overrides_is_flagged_as_empty() -> None:
    """Marked overrides and a ledger that knows nothing: every one is unknown, and the ledger is empty."""
    found = check_ledger([marked("o1"), marked("o2", feature="feat_b")], set(), set())
    assert found is not None and found.ledger_empty and found.override_ids == {"o1", "o2"} and found.count == 2


def test_a_ledger_knowing_other_overrides_reports_the_unknown_ones_only() -> None:
    """A non-empty ledger: the marked overrides it knows by token or id are fine, the rest are unknown."""
    found = check_ledger([marked("o1"), marked("o2"), marked("o3")], {"t-o1"}, {OverrideId("o2")})
    assert found is not None and not found.ledger_empty and found.override_ids == {"o3"}


def test_a_ledger_knowing_every_marked_override_is_fine() -> None:
    """Nothing unknown, nothing to say (also with no marked override at all)."""
    assert check_ledger([marked("o1")], {"t-o1"}, set()) is None
    assert check_ledger([], set(), set()) is None


def test_a_rebuild_restores_unknown_overrides_once_per_pair() -> None:
    """Known overrides are left alone; a second marked override for a pair restored or owned is a duplicate."""
    choice = choose_rebuild(
        [marked("o2"), marked("o1"), marked("o3", feature="feat_b"), marked("o4", feature="feat_c")],
        known_tokens={"t-o3"},
        known_ids=set(),
        owned_pairs={(CompanyId("comp_a"), FeatureId("feat_c"))},
    )
    assert [m.override_id for m in choice.restore] == ["o1"]
    assert [m.override_id for m in choice.known] == ["o3"]
    assert [m.override_id for m in choice.duplicates] == ["o2", "o4"]


def test_note_sources_reads_the_crms_a_note_names() -> None:
    """`Managed by crmsync from hubspot deal 1; salesforce deals 2, 3; rule …` names both CRMs, in order."""
    note = "Managed by crmsync from hubspot deal 1; salesforce deals 2, 3; rule seats (Seats). Change the deal."
    assert note_sources(note + " [crmsync:abc]", SOURCES) == ("hubspot", "salesforce")
    assert note_sources("Granted by hand by support (ticket 4411)", SOURCES) == ()


def test_note_token_reads_the_last_marker() -> None:
    """The token is what stands between the last `[crmsync:` and `]`; none without a marker."""
    assert note_token("Managed by crmsync … [crmsync:0123abcd]") == "0123abcd"
    assert note_token("quoting [crmsync:old] then [crmsync:new]") == "new"
    assert note_token("no marker") is None and note_token("[crmsync:unterminated") is None


def test_a_release_note_after_the_newest_marker_means_released() -> None:
    """A release note for the token that follows the newest marked note: released; a marked note
    written after it (crmsync manages it again): not; another token's release note: not."""
    marked, released = "Managed by crmsync from hubspot deal 1; rule m.yaml:1 (seats). [crmsync:t1]", release_note("t1")
    assert released_after([marked, released, "a person's note"], "t1")
    assert not released_after([marked, released, marked], "t1")
    assert not released_after([marked, release_note("t2")], "t1")
    assert note_token(released) is None  # the release note is not a marker of its own
