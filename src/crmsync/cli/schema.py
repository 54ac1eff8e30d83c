"""`crmsync schema features|traits|properties|stages`: what exists to map from and to, with what a
mapping file needs — the name to write, the type, the options (labels beside their values).

Read-only: Schematic's features and traits through its client, a CRM's deal properties and
pipelines (HubSpot) or Opportunity describe (Salesforce) through its connector (app.py builds them).
`register(app, guarded, out)` adds the `schema` group to the main app (cli/__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmsync.cli.jsonout import emit
from crmsync.cli.options import Guard, JsonLinesOption, MappingsOption

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.domain import Feature
    from crmsync.mapping.crm_schema import CrmField, CrmSchema

SourceOption = Annotated[
    str | None,
    typer.Option("--source", metavar="hubspot|salesforce", help="The CRM (default: every CRM a mapping file reads)."),
]
# Which `type:` a rule may give each kind of Schematic feature (mapping/check.py checks the same).
TYPES_FOR = {"boolean": ["boolean"], "event": ["numeric", "unlimited"], "license": ["numeric", "unlimited"],
             "trait": ["numeric", "unlimited", "trait"]}  # fmt: skip
# What a mapping rule can do with a CRM field of each kind (mapping/crm_check.py checks the same).
USES = {
    "number": "from: (type: numeric), when: with >, <",
    "date": "expires_from:, starts_from:",
    "boolean": "from: (type: boolean), when:",
    "choice": "when:, from: with map:",
    "text": "when:, from: with map: (or parse: text for a number or boolean)",
}


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add the `schema` group; `guarded` turns crmsync errors into exit codes."""
    group = typer.Typer(
        no_args_is_help=True, help="List what exists to map: features, traits, deal properties, stages."
    )
    app.add_typer(group, name="schema")

    @group.command("features")
    def features(as_json: JsonLinesOption = False) -> None:
        """Schematic's features: id, flag key and name (a rule's feature: takes any), type, the type: that fits."""

        def body() -> int:
            found = _catalog()[0]
            rows = [_feature_json(f) for f in sorted(found, key=lambda f: f.name.casefold())]
            if as_json:
                emit({"features": rows})
                return 0
            _table(out, ["FEATURE (write)", "ID", "FLAG KEY", "NAME", "SCHEMATIC TYPE", "type:"],
                   [[r["write"], r["id"], r["flag_key"] or "", r["name"], r["feature_type"], " | ".join(r["types"])]
                    for r in rows])  # fmt: skip
            return 0

        guarded(body)

    @group.command("traits")
    def traits(as_json: JsonLinesOption = False) -> None:
        """Schematic's company traits: id and name (a rule's trait: takes either), type."""

        def body() -> int:
            found = _catalog()[1]
            rows = [{"id": t.id, "name": t.name, "trait_type": t.trait_type, "write": t.name} for t in found]
            if as_json:
                emit({"traits": rows})
                return 0
            if not rows:
                out.print("Schematic has no company traits (type: trait rules need one).", highlight=False)
                return 0
            _table(out, ["TRAIT (write)", "ID", "TYPE"], [[r["write"], r["id"], r["trait_type"]] for r in rows])
            return 0

        guarded(body)

    @group.command("properties")
    def properties(
        source: SourceOption = None, mappings: MappingsOption = None, as_json: JsonLinesOption = False
    ) -> None:
        """A CRM's deal properties (Salesforce: Opportunity fields): the name to write, label, type, options."""

        def body() -> int:
            schemas = _schemas(source, mappings)
            doc = {s.source.value: [_field_json(f) for f in s.fields] for s in schemas}
            if as_json:
                emit({"properties": doc})
                return 0
            for schema in schemas:
                out.print(f"{schema.source.value}: {len(schema.fields)} deal properties", highlight=False)
                _table(out, ["NAME (write)", "LABEL", "TYPE", "USE IN A RULE", "OPTIONS (value (label))"],
                       [[r["name"], r["label"], r["type"], USES[r["kind"]], _options(r["options"])]
                        for r in doc[schema.source.value]])  # fmt: skip
            return 0

        guarded(body)

    @group.command("stages")
    def stages(source: SourceOption = None, mappings: MappingsOption = None, as_json: JsonLinesOption = False) -> None:
        """A CRM's pipelines and deal stages (Salesforce: StageName values and record types), id beside label."""

        def body() -> int:
            schemas = _schemas(source, mappings)
            doc = {s.source.value: _stages_json(s) for s in schemas}
            if as_json:
                emit({"stages": doc})
                return 0
            for schema in schemas:
                _print_stages(out, schema, doc[schema.source.value])
            return 0

        guarded(body)


def _catalog() -> tuple[list[Feature], list[Any]]:
    from crmsync.app import schematic_catalog
    from crmsync.cli import session

    return schematic_catalog(session.settings())


def _schemas(source: str | None, folder: Path | None) -> list[CrmSchema]:
    """The schema of `--source`, else of every CRM the mapping files read."""
    from crmsync.app import crm_schema
    from crmsync.cli import session
    from crmsync.domain import Source
    from crmsync.errors import ConfigError, MappingError
    from crmsync.mapping.loader import load_mappings

    settings = session.settings()
    if source is not None:
        try:
            sources = [Source(source.strip().lower())]
        except ValueError:
            raise ConfigError(f"--source {source!r} is not a CRM crmsync reads; use hubspot or salesforce") from None
    else:
        try:
            sources = sorted(load_mappings(folder or settings.mappings).sources(), key=lambda s: s.value)
        except MappingError:
            sources = []
        if not sources:
            raise ConfigError("no mapping file names a CRM to list; pass --source hubspot or --source salesforce")
    return [crm_schema(settings, s) for s in sources]


def _feature_json(f: Feature) -> dict[str, Any]:
    kind = f.feature_type.strip().lower()
    return {"id": f.id, "flag_key": f.flag_key, "name": f.name, "feature_type": kind,
            "write": f.flag_key or f.name, "types": TYPES_FOR.get(kind, [])}  # fmt: skip


def _field_json(f: CrmField) -> dict[str, Any]:
    options = [{"value": v, "label": f.label_of(v)} for v in f.options]
    return {"name": f.name, "label": f.label, "type": f.crm_type or f.kind.value, "kind": f.kind.value,
            "options": options}  # fmt: skip


def _stages_json(schema: CrmSchema) -> dict[str, Any]:
    if schema.source.value == "hubspot":
        pipelines = [{"id": p.id, "label": p.label, "stages": [{"id": s.id, "label": s.label} for s in p.stages]}
                     for p in schema.pipelines]  # fmt: skip
        return {"pipelines": pipelines}
    return {
        "stages": [{"id": s.id, "label": s.label} for s in schema.stages],
        "record_types": list(schema.record_types),
    }


def _print_stages(out: Console, schema: CrmSchema, doc: dict[str, Any]) -> None:
    """HubSpot: each pipeline and its stages; Salesforce: StageName's values and the record types."""
    if "pipelines" in doc:
        out.print("hubspot: pipelines: (write the ID), stages: (write the ID)", highlight=False)
        rows = [[p["id"], p["label"], s["id"], s["label"]] for p in doc["pipelines"] for s in p["stages"]]
        _table(out, ["PIPELINE", "PIPELINE LABEL", "STAGE", "STAGE LABEL"], rows)
        return
    out.print("salesforce: stages: (StageName values)", highlight=False)
    _table(out, ["STAGE (write)", "LABEL"], [[s["id"], s["label"]] for s in doc["stages"]])
    types = ", ".join(doc["record_types"]) or "none (this org has no Opportunity record types)"
    out.print(f"record_types: (developer names): {types}", highlight=False)


def _options(options: Sequence[dict[str, str]]) -> str:
    return ", ".join(o["value"] if o["label"] == o["value"] else f"{o['value']} ({o['label']})" for o in options)


def _table(out: Console, head: list[str], rows: list[list[str]]) -> None:
    """Plain aligned columns (copyable names; no box drawing), the last column unpadded."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head) - 1)]
    for row in [head, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)] + [str(row[-1])]
        out.print("  ".join(cells).rstrip(), markup=False, highlight=False, soft_wrap=True)
