"""Mappings: the files in force with their validation status and test-case results, and an editor
that checks a pasted or edited file in their place (problems inline at their line and column, test
results, and the plan preview: the edit's changes with what the customer can use before → after,
apart from what changes anyway) and offers it for download. Nothing is written: not a mapping file
(they stay in Git), not Schematic."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmsync.errors import CrmsyncError, Problem
from crmsync.logs import get_logger
from crmsync.service.mapping_review import edit_name, review_edit, review_folder
from crmsync.service.preview import Preview, preview_mapping_edit
from crmsync.web.console.pages import actor_of, console_of, error_page, render
from crmsync.web.console.permissions import Action, ensure

log = get_logger("crmsync.web.console")
MAX_TEXT = 1024 * 1024  # a mapping file is a few kilobytes


async def mappings(request: Request) -> Response:
    """The files in force; `?edit=NAME` opens one in the editor."""
    folder = Path(console_of(request).mappings)
    review = await run_in_threadpool(review_folder, folder)
    name = request.query_params.get("edit", "")
    chosen = next((f for f in review.files if f.name == name), review.files[0] if review.files else None)
    return render(request, "mappings.html", folder=str(folder), review=review, edited=None,
                  name=chosen.name if chosen else "mapping.yaml", text=chosen.text if chosen else "")  # fmt: skip


async def check(request: Request) -> Response:
    """Check an edited file: its problems inline, the test cases with it in force (nothing is written)."""
    actor = ensure(actor_of(request), Action.CHECK_MAPPING)
    form = await request.form(max_files=0, max_fields=10)
    text, name = str(form.get("text", "")), str(form.get("name", "edited.yaml"))[:128]
    if len(text) > MAX_TEXT:
        return error_page(request, 413, "Too large", "A mapping file is at most 1 MiB.")
    folder = Path(console_of(request).mappings)
    review = await run_in_threadpool(review_folder, folder)
    edited = await run_in_threadpool(review_edit, folder, name, text)
    log.info("console.mapping_checked", file=name, actor=actor.id)
    mine = next(f for f in edited.files if f.name == edit_name(name))
    problems_at: dict[int, list[Problem]] = {}
    for problem in mine.problems:
        problems_at.setdefault(problem.line, []).append(problem)
    preview, trouble = await _preview(request, folder, edit_name(name), text) if mine.valid else (None, "")
    return render(request, "mappings.html", folder=str(folder), review=review, edited=edited, mine=mine,
                  name=edit_name(name), text=text, lines=text.replace("\r\n", "\n").split("\n"),
                  problems_at=problems_at, preview=preview, preview_problem=trouble)  # fmt: skip


async def _preview(request: Request, folder: Path, name: str, text: str) -> tuple[Preview | None, str]:
    """The plan preview of a valid edit, or why there is none (an API down, the files in force broken):
    our own errors are written for people and carry no secret; the rest of the page still shows."""
    console = console_of(request)

    def previewed() -> Preview:
        with console.workspace() as (ctx, maps):
            return preview_mapping_edit(ctx, maps, folder, name, text)

    try:
        return await run_in_threadpool(previewed), ""
    except CrmsyncError as exc:
        log.warning("console.preview_failed", file=name, error=type(exc).__name__, detail=str(exc))
        return None, str(exc)


async def download(request: Request) -> Response:
    """The edited file back as a download (to commit in Git); nothing is stored."""
    ensure(actor_of(request), Action.CHECK_MAPPING)
    form = await request.form(max_files=0, max_fields=10)
    text = str(form.get("text", ""))[:MAX_TEXT]
    name = Path(str(form.get("name", "mapping.yaml"))).name or "mapping.yaml"
    safe = "".join(c for c in name if c.isalnum() or c in "._-")[:100] or "mapping.yaml"
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{safe}"'})  # fmt: skip
