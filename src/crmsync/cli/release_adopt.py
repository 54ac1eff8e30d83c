"""`crmsync release` and `crmsync adopt`: hand overrides back to people, or take them over.

`register(app, guarded, out)` adds both commands to the main typer app (cli/__init__.py). Both
write only crmsync's ledger (zero Schematic writes); service/manage.py does the work.
Exit codes: 0 ok, 1 nothing matched or an unknown id, 2 bad configuration or mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crmsync.cli.jsonout import emit
from crmsync.cli.options import Guard, JsonLinesOption, MappingsOption
from crmsync.cli.render import outside
from crmsync.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.service.manage import Adopted

CompanyOption = Annotated[
    str | None,
    typer.Option("--company", help="A Schematic company id (comp_…) or a key, e.g. hubspot_company_id=5001."),
]
FeatureOption = Annotated[str | None, typer.Option("--feature", help="Only this feature (id, flag key or exact name).")]


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `release` and `adopt` to the app; `guarded` turns crmsync errors into exit codes."""

    @app.command("release")
    def release_overrides(
        override_ids: Annotated[
            list[str] | None, typer.Argument(metavar="OVERRIDE_ID", help="Overrides (cmov_…) to stop managing.")
        ] = None,
        company: CompanyOption = None,
        feature: FeatureOption = None,
    ) -> None:
        """Stop managing overrides without deleting them (one note each says so); `crmsync adopt` takes them back."""

        def body() -> int:
            from crmsync.app import schematic_context
            from crmsync.cli import session
            from crmsync.service.manage import release

            if bool(override_ids) == bool(company) or (feature and not company):
                raise ConfigError("give either OVERRIDE_ID… or --company (with an optional --feature)")
            with schematic_context(session.settings()) as ctx:
                released = release(ctx, override_ids or [], company, feature)
            for row in released.rows:
                out.print(f"released {row.override_id} ({row.company_id} / {row.feature_id})", highlight=False)
            out.print(
                f"crmsync no longer manages {len(released.rows)} override(s): their values stay as they are and they "
                f"are not re-created; {released.noted} release note(s) written to Schematic, so a ledger rebuild keeps "
                "them released. Take them back with crmsync adopt.",
                highlight=False,
            )
            for override_id, why in released.unnoted.items():
                out.print(
                    f"crmsync: released {override_id} in the ledger, but its release note could not be written "
                    f"({outside(why)}); run crmsync release {override_id} again, or a ledger rebuild after a lost "
                    "state database would manage it again",
                    highlight=False,
                )
            return 1 if released.unnoted else 0

        guarded(body)

    @app.command("adopt")
    def adopt_overrides(
        company: CompanyOption = None,
        feature: FeatureOption = None,
        mappings: MappingsOption = None,
        as_json: JsonLinesOption = False,
    ) -> None:
        """Take over the overrides crmsync did not create that stand where the deals want one (see `plan`);
        no API write: the next apply updates any whose value differs."""

        def body() -> int:
            from crmsync.app import mapped_context
            from crmsync.cli import session
            from crmsync.service.manage import adopt

            with mapped_context(mappings, session.settings()) as (ctx, maps):
                done = adopt(ctx, maps, company, feature)
            if as_json:
                emit(adopted_json(done))
            else:
                render_adopted(out, done)
            return 0

        guarded(body)


def adopted_json(done: Adopted) -> dict[str, object]:
    """`crmsync adopt --json`: the adopted overrides and the resumed pairs."""
    from crmsync.reconcile.plan import live_json

    plan = done.run.plan
    return {
        "adopted": [
            {
                "company_id": a.live.company_id,
                "company": plan.name(a.live.company_id),
                "feature_id": a.live.feature_id,
                "feature": plan.name(a.live.feature_id),
                "override_id": a.live.id,
                "live": live_json(a.live),
                "value_matches": a.value_matches,
            }
            for a in done.adopted
        ],
        "resumed": [
            {"company_id": r.company_id, "feature_id": r.feature_id, "released_override_id": r.override_id}
            for r in done.resumed
        ],
    }


def render_adopted(console: Console, done: Adopted) -> None:
    """One line per adopted override and resumed pair, then what the next apply does."""
    plan = done.run.plan
    for a in done.adopted:
        where = outside(f"{plan.name(a.live.company_id)} / {plan.name(a.live.feature_id)}")
        then = "" if a.value_matches else f"; the next apply updates it to {a.desired.value.describe()}"
        console.print(f"adopted {a.live.id} ({where}, {a.live.value.describe()}){then}", highlight=False)
    for r in done.resumed:
        where = outside(f"{plan.name(r.company_id)} / {plan.name(r.feature_id)}")
        console.print(
            f"resumed {where}: released override {r.override_id} is gone; the next apply creates one if the "
            "deals want it",
            highlight=False,
        )
    if not done.adopted and not done.resumed:
        console.print("Nothing to adopt: no override crmsync did not create stands where the deals want one.")
    else:
        console.print("Nothing was written to Schematic; review with crmsync plan, then crmsync apply.")
