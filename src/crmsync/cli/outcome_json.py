"""`crmsync apply --json`: one object saying how the apply ended — status, the plan it applied, the
refusals, each change's result — and the exit code the text output would give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from crmsync.domain import RunStatus
from crmsync.errors import Problem

if TYPE_CHECKING:
    from crmsync.service.reconcile import Outcome


def outcome_json(outcome: Outcome, *, where: str = "") -> dict[str, Any]:
    """The apply's outcome as JSON (`plan`: the plan applied, as `crmsync plan --json` shows it)."""
    from crmsync.cli.render import refusal_text  # rich: not on `validate --json`'s path (fast start)

    report = outcome.report
    return {
        "status": outcome.status.value,
        "run_id": outcome.run_id,
        "actor": outcome.actor or None,
        "plan": outcome.run.plan.to_json() if outcome.run is not None else None,
        "refusals": [{**r.to_json(), "message": refusal_text(r, where=where)} for r in outcome.refusals],
        "results": [asdict(r) for r in report.results] if report else [],
        "recorded": list(report.recorded) if report else [],
        "applied": sum(1 for r in report.results if r.ok) if report else 0,
        "failed": len(report.failed) if report else 0,
        "not_attempted": report.not_attempted if report else 0,
        "stopped": report.stopped if report else "",
        "busy": list(report.busy) if report else [],
        "refused_companies": list(report.refused) if report else [],
        "replanned": list(outcome.replanned),
    }


def outcome_exit(outcome: Outcome) -> int:
    """0 all applied (or nothing to do), 1 a change failed / busy companies / declined, 3 refused."""
    if outcome.status is RunStatus.REFUSED:
        return 3
    if outcome.status is RunStatus.DECLINED:
        return 1
    return 0 if outcome.report is None or outcome.status is RunStatus.OK else 1


def validation_json(
    folder: str, files: int, rules: int, *, online: bool, problems: Sequence[Problem] = ()
) -> dict[str, Any]:
    """`crmsync validate --json`: valid or not, what was checked, every located problem."""
    return {
        "valid": not problems,
        "mappings": folder,
        "files": files,
        "rules": rules,
        "checked_against_schematic": online,
        "problems": [asdict(p) for p in problems],
    }
