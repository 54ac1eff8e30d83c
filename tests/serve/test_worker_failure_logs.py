"""A reconcile that fails under serve logs why in fields — status, run id, refusal kinds, counts, the
first errors — at warning level (error when given up), never as an `Outcome(...)` object dump."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from crmsync import logs
from crmsync.domain import CompanyId, RunStatus, Trigger
from crmsync.reconcile.notices import Refusal, RefusalKind
from crmsync.service.apply import ApplyReport
from crmsync.service.reconcile import Outcome
from crmsync.serving.resolve import Resolver
from crmsync.serving.worker import IntakeWorker, WorkerSettings
from crmsync.store.runs import ChangeResult
from tests.serve.databases import intake_database

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
    """JSON logs at info on stderr; reset afterwards."""
    logs.configure_logging("json", "info")
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
