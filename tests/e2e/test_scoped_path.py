"""Serve's path of one deal change, as the reconcile use case runs it scoped to one company: what it
reads of Schematic and HubSpot, over the real clients against the emulators."""

from __future__ import annotations

from crmsync.domain import CompanyId, Trigger
from crmsync.service.reconcile import Mode, Request
from crmsync.store.leases import LeaseBook
from crmsync.store.repository import Store
from tests.e2e.conftest import Harness


def _seats(h: Harness) -> object:
    return next(o["value_numeric"] for o in h.sb.schematic.overrides.values()
                if o["company_id"] == "comp_hooli" and o["feature_id"] == "feat_seats")  # fmt: skip


def _scoped(h: Harness) -> Request:
    return Request(Trigger.WEBHOOK, Mode.APPLY, scope=frozenset({CompanyId("comp_hooli")}), lock_wait=5)


def test_a_scoped_apply_reads_the_companys_overrides_once(harness: Harness) -> None:
    """Leased before it plans, a scoped apply writes from the plan's read: one /company-overrides GET."""
    harness.apply()
    harness.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="777")
    mark = len(harness.sb.schematic.requests)
    outcome = harness.reconcile(_scoped(harness))
    assert outcome.ok, outcome.reason()
    reads = [r for r in harness.sb.schematic.requests[mark:] if r.method == "GET" and r.path == "/company-overrides"]
    assert len(reads) == 1
    assert _seats(harness) == 777


def test_a_company_another_process_holds_is_not_written_and_is_read_again_once_free(harness: Harness) -> None:
    """Held by another process at plan time, the company is busy (nothing written); freed, it is applied."""
    harness.apply()
    harness.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="778")
    other = LeaseBook(Store(harness.settings.database_url), holder="another-process")
    assert other.try_acquire(["company:comp_hooli"])
    outcome = harness.reconcile(Request(Trigger.WEBHOOK, Mode.APPLY, scope=frozenset({CompanyId("comp_hooli")}),
                                        lock_wait=0.3))  # fmt: skip
    assert not outcome.ok and outcome.report is not None and outcome.report.busy == [CompanyId("comp_hooli")]
    assert _seats(harness) != 778
    other.release()
    assert harness.reconcile(_scoped(harness)).ok
    assert _seats(harness) == 778
