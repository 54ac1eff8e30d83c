"""Every online check of the mapping files, before anything is read or written: Schematic's
features (and their types), the CRMs' properties, fields, pipelines, stages and record types,
the company key, and traits by id or name.

One function for `validate`, `plan` and `apply` (through `planning.build_plan`), so a typo that
`validate` passes cannot delete at `apply`. It fetches what the checks need once per call (the
connectors keep their schema for the run) and raises `MappingError` with every problem at once,
including the structural ones `validate` found while loading.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from crmsync.connectors.base import Connector
from crmsync.domain import Company, Feature, FeatureId, Source
from crmsync.errors import MappingError, Problem
from crmsync.mapping.check import check_consistency, check_types, resolve_features
from crmsync.mapping.crm_check import check_company_keys, check_crm, resolve_traits
from crmsync.mapping.crm_schema import CrmSchema
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.schematic.client import SchematicClient


@dataclass(frozen=True)
class Checked:
    """Mappings that passed: traits resolved to ids, each `feature:` text's FeatureId, warnings."""

    mappings: Mappings
    resolved: Mapping[str, FeatureId]
    warnings: tuple[PlanWarning, ...] = ()


def crm_schemas(connectors: Mapping[Source, Connector], sources: Collection[Source]) -> dict[Source, CrmSchema]:
    """The deal schema of every CRM the mappings read (each connector fetches it once)."""
    return {s: connectors[s].deal_schema() for s in sources if s in connectors}


def preflight(
    schematic: SchematicClient,
    connectors: Mapping[Source, Connector],
    mappings: Mappings,
    *,
    features: Sequence[Feature] | None = None,
    companies: Sequence[Company] | None = None,
    structural: Sequence[Problem] = (),
) -> Checked:
    """Run every check; raise MappingError with `structural` and every problem found.

    `features`: already fetched this run (else fetched here). `companies`: every Schematic company,
    for the company-key check (None skips it: a scoped run sees only some companies)."""
    features = list(features) if features is not None else schematic.list_features()
    resolved, problems = resolve_features(mappings, features)
    problems += check_types(mappings, features, resolved) + check_consistency(mappings, resolved)
    problems += check_crm(mappings, crm_schemas(connectors, mappings.sources()))
    warnings: list[PlanWarning] = []
    if companies is not None:
        carried = {k for c in companies for k in c.keys}
        key_problems, texts = check_company_keys(mappings, carried, len(companies))
        problems += key_problems
        warnings = [PlanWarning(WarningKind.OTHER, text) for text in texts]
    if any(r.trait for f in mappings.files for r in f.overrides):
        mappings, trait_problems = resolve_traits(mappings, schematic.list_traits())
        problems += trait_problems
    everything = sorted(set([*structural, *problems]))
    if everything:
        raise MappingError(everything)
    return Checked(mappings, dict(resolved), tuple(warnings))
