"""Reading the source deals back from the note crmsync writes on its overrides (`crmsync owned`)."""

from __future__ import annotations

from dataclasses import replace

from crmsync.domain import DealId, OverrideValue, Source, ValueType
from crmsync.reconcile.note import make_note
from crmsync.reconcile.note import note_deals as deals_of_note
from tests.core.builders import desired


def test_deals_round_trip_through_make_note() -> None:
    """Every (source, deal) make_note writes is read back, in order, whatever the token."""
    want = desired("comp_1", "feat_1", OverrideValue(ValueType.NUMERIC, value_numeric=5))
    deals = ((Source.HUBSPOT, DealId("1001")), (Source.HUBSPOT, DealId("1014")), (Source.SALESFORCE, DealId("006A")))
    want = replace(want, provenance=replace(want.provenance, deals=deals))
    note = make_note(want, token="tok123")
    assert deals_of_note(note) == (("hubspot", "1001"), ("hubspot", "1014"), ("salesforce", "006A"))


def test_a_note_crmsync_did_not_write_names_no_deals() -> None:
    """A person's note gives nothing rather than a guess."""
    assert deals_of_note("set by hand for the pilot; rule of thumb") == ()


def test_a_cut_short_note_keeps_the_deals_it_names_whole() -> None:
    """A note cut at the length limit (…) before its rule still yields the complete deal lists."""
    assert deals_of_note("Managed by crmsync from hubspot deal 7; salesforce deals 1, 2; rule x.yaml:1 (S…") == (
        ("hubspot", "7"),
        ("salesforce", "1"),
        ("salesforce", "2"),
    )


def test_a_note_cut_inside_its_deals_keeps_the_whole_ids_only() -> None:
    """Cut at the length limit within the deal list: the ids named whole, never the fragment."""
    note = "Managed by crmsync from hubspot deals 7, 8; salesforce deals 1, 10… [crmsync:abc]"
    assert deals_of_note(note) == (("hubspot", "7"), ("hubspot", "8"), ("salesforce", "1"))
