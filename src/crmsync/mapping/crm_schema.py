"""What the outside systems say that mapping checks need: a CRM's deal fields, pipelines, stages
and record types (`CrmSchema`), and Schematic's trait definitions (`Trait`).

Connectors build a `CrmSchema` from HubSpot's properties and pipelines APIs or Salesforce's
describe, the Schematic client lists `Trait`s; `crm_check.py` checks mapping files against them.
Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crmsync.domain import Source


class FieldKind(StrEnum):
    """What a CRM field holds, as far as a mapping rule cares."""

    NUMBER = "number"
    DATE = "date"  # a date, or a date and time
    BOOLEAN = "boolean"
    TEXT = "text"  # free text, an id, a reference
    CHOICE = "choice"  # a picklist / enumeration: text from a fixed list


@dataclass(frozen=True)
class CrmField:
    """One deal (opportunity) field: its API name, what it holds, its label and its choices."""

    name: str
    kind: FieldKind
    label: str = ""
    options: tuple[str, ...] = ()  # the values of a CHOICE field
    crm_type: str = ""  # the CRM's own type name, for messages ("datetime", "enumeration", …)
    option_labels: tuple[str, ...] = ()  # beside `options`, what people see (a label may differ from its value)

    def label_of(self, option: str) -> str:
        """The label of one of `options` (the value itself when the CRM gave none)."""
        labels = dict(zip(self.options, self.option_labels, strict=False))
        return labels.get(option) or option


@dataclass(frozen=True)
class CrmStage:
    """A deal stage: its id (what mapping files name) and its label (what people see)."""

    id: str
    label: str


@dataclass(frozen=True)
class CrmPipeline:
    """A HubSpot deal pipeline and its stages."""

    id: str
    label: str
    stages: tuple[CrmStage, ...]


@dataclass(frozen=True)
class CrmSchema:
    """One CRM's deal fields and how deals are staged.

    HubSpot: `pipelines` (stages belong to a pipeline). Salesforce: `stages` (StageName's picklist)
    and `record_types` (developer names; empty in an org without Opportunity record types).
    """

    source: Source
    fields: tuple[CrmField, ...]
    pipelines: tuple[CrmPipeline, ...] = ()
    stages: tuple[CrmStage, ...] = ()
    record_types: tuple[str, ...] = ()

    def field(self, name: str) -> CrmField | None:
        """A field by API name (exactly; HubSpot names are lower case, Salesforce's case-insensitive)."""
        exact = next((f for f in self.fields if f.name == name), None)
        if exact is not None or self.source is Source.HUBSPOT:
            return exact
        return next((f for f in self.fields if f.name.lower() == name.lower()), None)


@dataclass(frozen=True)
class Trait:
    """A Schematic trait definition: `trait:` in a mapping file names it by id or display name."""

    id: str
    name: str
    trait_type: str = ""
    entity_type: str = "company"
