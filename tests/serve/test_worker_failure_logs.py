"""A reconcile that fails under serve logs why in fields — status, run id, refusal kinds, counts, the
first errors — at warning level (error when given up), never as an `Outcome(...)` object dump."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import event, select

from crmsync import logs
from crmsync.domain import CompanyId, RunStatus, Trigger
from crmsync.reconcile.notices import Refusal, RefusalKind
from crmsync.service.apply import ApplyReport
from crmsync.service.reconcile import Outcome
from crmsync.serving.resolve import Resolver
from crmsync.serving.worker import IntakeWorker, WorkerSettings
from crmsync.store.intake import EVENTS, ClaimedEvent, NewEvent
from crmsync.store.runs import ChangeResult
from tests.serve.databases import intake_database

SECRET = "pat-na1-0123456789abcdef"  # a configured secret value (a HubSpot token, say)
ERROR = "Schematic: PUT /company-overrides/cmov_1 answered 500: boom (Schematic failed on its side)"


def failed_outcome() -> Outcome:
    """A run that wrote some changes, failed others and was partly refused."""
    report = ApplyReport(
        results=[ChangeResult("update", "comp_a", f"feat_{n}", f"cmov_{n}", False, ERROR) for n in range(5)]
        + [ChangeResult("create", "comp_a", "feat_ok", "cmov_ok", True)],
        stopped="Schematic unreachable",
    )
    refusal = Refusal(RefusalKind.DRIFT_FAIL, "2 owned overrides were edited by hand", affected=2)
    return Outcome(RunStatus.FAILED, None, run_id=7, report=report, refusals=(refusal,))


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """JSON logs at info on stderr, SECRET configured as a secret value; reset afterwards."""
    logs.configure_logging("json", "info", secrets=[SECRET])
    yield capsys
    logs.reset_logging()


def test_outcome_reason_names_kinds_counts_and_first_errors() -> None:
    """The reason of a failed run: status, run id, refusal kinds and words, counts, three first errors."""
    reason = failed_outcome().reason()
    assert reason["status"] == "failed" and reason["run_id"] == 7
    assert reason["refusals"] == ["drift-fail"] and reason["refusal"] == "2 owned overrides were edited by hand"
    assert (reason["failed"], reason["busy"], reason["stopped"]) == (5, 0, "Schematic unreachable")
    assert reason["errors"] == [f"comp_a/feat_{n}: {ERROR}" for n in range(3)]


def test_a_failed_reconcile_is_logged_with_its_reason_in_fields(
    tmp_path: Path, json_logs: pytest.CaptureFixture[str]
) -> None:
    """The worker's `reconcile.failed` carries the reason's fields at warning; a company out of attempts
    is `reconcile.given_up` at error, with the same reason."""
    with intake_database("sqlite", tmp_path) as (_store, intake):
        intake.enqueue_companies([CompanyId("comp_a")], Trigger.WEBHOOK_HUBSPOT)
        worker = IntakeWorker(
            intake,
            cast(Resolver, None),  # reconcile_batch resolves nothing
            lambda _scope, _trigger: failed_outcome(),
            WorkerSettings(max_attempts=1, retry_delay=0.0),
        )
        assert worker.reconcile_batch()
    err = json_logs.readouterr().err
    assert "Outcome(" not in err
    lines = [json.loads(line) for line in err.splitlines()]
    (failed,) = [line for line in lines if line["event"] == "reconcile.failed"]
    assert failed["level"] == "warning" and failed["trigger"] == "webhook:hubspot" and failed["scope"] == "comp_a"
    assert failed["refusals"] == ["drift-fail"] and failed["failed"] == 5 and len(failed["errors"]) == 3
    assert failed["retried"] == 0  # its one attempt is used up
    (given_up,) = [line for line in lines if line["event"] == "reconcile.given_up"]
    assert given_up["level"] == "error" and given_up["company_id"] == "comp_a" and given_up["run_id"] == 7


class _LeakyResolver:
    """A resolution that fails with an exception quoting a secret (a URL with a token, a vendor's body)."""

    def companies(self, events: list[ClaimedEvent]) -> list[str]:
        """Fail the way a client library may: the request, token included, in the message."""
        body = "x" * 2000
        raise RuntimeError(f"GET https://api.hubapi.com/deals?hapikey={SECRET} failed:\n{SECRET} {body}")


def test_an_unresolved_hints_error_is_stored_and_logged_masked_and_bounded(
    tmp_path: Path, json_logs: pytest.CaptureFixture[str]
) -> None:
    """A resolution error quoting a configured secret reaches neither the intake's error column nor the
    log line; both keep one bounded line with the secret masked."""
    with intake_database("sqlite", tmp_path) as (_store, intake):
        intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1001", "k1")])
        worker = IntakeWorker(intake, cast(Resolver, _LeakyResolver()), lambda _s, _t: failed_outcome())
        assert worker.resolve_batch()
        with intake.engine.connect() as conn:
            (stored,) = conn.execute(select(EVENTS.c.error)).scalars().all()
    assert SECRET not in stored and "***" in stored and "\n" not in stored and len(stored) <= 300
    (logged,) = [json.loads(line) for line in json_logs.readouterr().err.splitlines()
                 if json.loads(line)["event"] == "hints.unresolved"]  # fmt: skip
    assert SECRET not in logged["detail"] and logged["detail"] == stored


def test_a_batch_of_companies_finishes_in_one_transaction(tmp_path: Path) -> None:
    """A reconcile of 40 companies ends with one transaction for all of them, not one per company."""
    with intake_database("sqlite", tmp_path) as (_store, intake):
        intake.enqueue_companies([CompanyId(f"comp_{n:02}") for n in range(40)], Trigger.WEBHOOK_HUBSPOT)
        worker = IntakeWorker(intake, cast(Resolver, None), lambda _s, _t: failed_outcome(), WorkerSettings())
        commits: list[object] = []
        counted = commits.append  # one object, so that `event.remove` finds it
        event.listen(intake.engine, "commit", counted)
        try:
            assert worker.reconcile_batch()
        finally:
            event.remove(intake.engine, "commit", counted)
        assert len(commits) == 2  # the claim, and the finish of all 40
        assert intake.depth().companies == 40  # each queued again after its delay
