"""The events of a run: `run.started` / `run.finished` around it (`log_run`, at the level its status
deserves) and one `change` per applied change (`log_change`). Called by service/reconcile.py and
service/apply.py; the loggers come from logs.py, the one logging setup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from crmsync.logs import get_logger

if TYPE_CHECKING:
    from crmsync.domain import Change

_RUN_LEVELS = {"ok": "info", "declined": "info", "refused": "warning", "busy": "warning", "failed": "error"}


@contextmanager
def log_run(command: str, trigger: str, **fields: Any) -> Iterator[MutableMapping[str, Any]]:
    """`run.started`, then `run.finished` with status (ok, or failed and the error's type) and
    duration_ms, at warning or error when the status says the run did not do its job. The body may
    add fields to the yielded dict (counts, run_id, status) for the end."""
    log = get_logger("crmsync.run")
    log.info("run.started", command=command, trigger=trigger, **fields)
    started = time.monotonic()
    end: dict[str, Any] = {"status": "ok"}
    raised = False
    try:
        yield end
    except BaseException as exc:
        end.update(status="failed", error=type(exc).__name__)
        raised = True
        raise
    finally:
        ms = round((time.monotonic() - started) * 1000, 1)
        # A run that ended not ok is a warning (refused, busy) or an error (failed). One ended by an
        # exception stays info: whoever catches it reports it once (the CLI's one line, serve's
        # `reconcile.failed` at warning), and the CLI's default level must not print it twice.
        level = "info" if raised else _RUN_LEVELS.get(str(end.get("status")), "warning")
        log.log(logging.getLevelName(level.upper()), "run.finished", command=command, trigger=trigger,
                duration_ms=ms, **{**fields, **end})  # fmt: skip


def log_change(
    change: Change, override_id: str | None, *, duration_ms: float, error: BaseException | None = None
) -> None:
    """The `change` event of one change: action, company_id, feature_id, override_id, result (ok or
    failed, with the error) and duration_ms (emitted by apply's coordinating thread for each result)."""
    fields: dict[str, Any] = {
        "action": change.action.value,
        "company_id": change.company_id,
        "feature_id": change.feature_id,
        "duration_ms": duration_ms,
    }
    log = get_logger("crmsync.apply")
    if error is not None:
        before = change.before.id if change.before else None
        log.warning("change", **fields, override_id=override_id or before, result="failed", error=str(error))
    else:
        log.info("change", **fields, override_id=override_id, result="ok")
