"""Runs one mapping test case through the real translation and combine code (pure, offline).

Lives in the service layer because it joins `mapping` (translate) and `reconcile` (combine),
which may not import each other. `crmsync test` calls `run_case` for every case; the types,
offline feature and company resolution, and the comparison are in `mapping/case_results.py`.
"""

from __future__ import annotations

from dataclasses import replace

from crmsync.mapping.case_results import (
    Case,
    CaseFile,
    CaseResult,
    compare,
    filtered_notes,
    offline_companies,
    offline_features,
)
from crmsync.mapping.rules import Mappings
from crmsync.mapping.translate import translate
from crmsync.reconcile.combine import combine


def run_case(case: Case, mappings: Mappings, cases: CaseFile) -> CaseResult:
    """Translate and combine the case's deals at the case's `now`; compare with what it expects."""
    translation = translate(case.deals, mappings.files, offline_features(mappings, cases), case.now)
    companies = offline_companies({c.company for c in translation.contributions}, cases)
    desired, _ = combine(translation.contributions, companies)
    result = compare(case, cases, translation, {key: want.value for key, want in desired.items()})
    return replace(result, notes=filtered_notes(case.deals, mappings.files) + result.notes)
