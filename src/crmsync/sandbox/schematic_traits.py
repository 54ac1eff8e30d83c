"""The Schematic emulator's trait definitions: `GET /entity-trait-definitions` (and `/count`).

Shapes follow `listEntityTraitDefinitions` in /work/shared/specs/schematic/schematic.yaml:
`{data: [EntityTraitDefinitionResponseData], params}`, filtered by `ids`, `q` (display name),
`entity_type` and `trait_type`. `add_trait` seeds one; `schematic.py` routes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmsync.sandbox.common import Call, iso_z
from crmsync.sandbox.schematic_api import id_filter, listing
from crmsync.sandbox.schematic_model import Record, new_id, newest

if TYPE_CHECKING:
    from crmsync.sandbox.schematic import SchematicState

TRAIT_TYPES = ("boolean", "currency", "date", "number", "string", "url")
ENTITY_TYPES = ("company", "user")


def add_trait(
    state: SchematicState,
    display_name: str,
    *,
    trait_type: str = "number",
    entity_type: str = "company",
    trait_id: str | None = None,
) -> str:
    """Define a trait (e.g. a company's `seats_purchased` number); returns its id (`etdef_…`)."""
    if trait_type not in TRAIT_TYPES or entity_type not in ENTITY_TYPES:
        raise ValueError(f"trait_type must be one of {TRAIT_TYPES}, entity_type one of {ENTITY_TYPES}")
    with state.lock:
        now = iso_z(state.clock())
        record: Record = {"id": trait_id or new_id("etdef"), "display_name": display_name,
                          "entity_type": entity_type, "trait_type": trait_type, "hierarchy": [display_name],
                          "created_at": now, "updated_at": now}  # fmt: skip
        state.traits[record["id"]] = record
        return str(record["id"])


def _traits(state: SchematicState, call: Call, params: dict[str, Any]) -> list[Record]:
    ids = id_filter(call, params, "ids")
    q = (call.first("q") or "").casefold()
    entity, kind = call.first("entity_type"), call.first("trait_type")
    for name, value in (("q", q), ("entity_type", entity), ("trait_type", kind)):
        if value:
            params[name] = value
    return [t for t in newest(state.traits.values())
            if (ids is None or t["id"] in ids) and (not q or q in t["display_name"].casefold())
            and (not entity or t["entity_type"] == entity) and (not kind or t["trait_type"] == kind)]  # fmt: skip


list_traits, count_traits = listing(_traits, lambda state: dict, "/entity-trait-definitions")
