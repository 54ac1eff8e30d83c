"""Run records stay small for very large companies: a run's details keep a count and the first
DETAIL_LIMIT of each list (conflicts, warnings, names…), its errors the first DETAIL_LIMIT and a line
counting the rest. Pure: the record is computed, not stored."""

from __future__ import annotations

import json

from crmsync.domain import CompanyId, Conflict, FeatureId
from crmsync.mapping.translate import Translation
from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.reconcile.plan import Plan
from crmsync.service.context import PlanRun
from crmsync.service.history import DETAIL_LIMIT, bounded_errors, run_details, run_summary
from tests.core.builders import desired, live, numeric

OVERRIDES = 10_000


def huge_company_run() -> PlanRun:
    """One company with 10,000 overrides crmsync did not create where the deals want others, each warned about."""
    company = CompanyId("comp_big")
    conflicts = tuple(
        Conflict(company, FeatureId(f"feat_{n}"), live(f"cmov_{n}", company, f"feat_{n}", numeric(1)),
                 desired(company, f"feat_{n}", numeric(2)))
        for n in range(OVERRIDES)
    )  # fmt: skip
    warnings = tuple(
        PlanWarning(WarningKind.ENTITLEMENT, f"Big Co / Feature {n}: 2 is less generous than the plan")
        for n in range(OVERRIDES)
    )
    names = {company: "Big Co"} | {f"feat_{n}": f"Feature {n}" for n in range(OVERRIDES)}
    plan = Plan((), conflicts=conflicts, warnings=warnings, names=names)
    return PlanRun(plan, (), Translation((), (), ()), (), ())


def test_a_run_of_a_company_with_ten_thousand_overrides_records_a_bounded_summary() -> None:
    """10,000 conflicts and warnings: the details keep the first 100 of each and count the rest; the
    summary's counts stay whole; the stored JSON is a few tens of KB, not hundreds."""
    run = huge_company_run()
    details = run_details(run)
    assert len(details["conflicts"]) == DETAIL_LIMIT and len(details["warnings"]) == DETAIL_LIMIT
    assert details["omitted"] == {"conflicts": OVERRIDES - DETAIL_LIMIT, "warnings": OVERRIDES - DETAIL_LIMIT}
    summary = run_summary(run, details=details)
    assert summary["conflicts"] == OVERRIDES
    size = len(json.dumps(summary, sort_keys=True))
    print(f"\nsummary_json of a 10,000-override company: {size / 1024:.0f} KiB")
    assert size < 64 * 1024


def test_errors_keep_the_first_hundred_and_count_the_rest() -> None:
    """250 errors: the first 100, then `… and 150 more`; 100 or fewer are kept whole."""
    errors = [f"deal {n}: bad value" for n in range(250)]
    assert bounded_errors(errors) == [*errors[:DETAIL_LIMIT], "… and 150 more"]
    assert bounded_errors(errors[:DETAIL_LIMIT]) == errors[:DETAIL_LIMIT]
