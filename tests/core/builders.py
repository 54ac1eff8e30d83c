"""Small builders for the pure-core tests: deals, rules, overrides."""

from __future__ import annotations

from datetime import UTC, datetime

from crmsync.domain import (
    CompanyId,
    Deal,
    DealId,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    OverrideId,
    OverrideValue,
    Provenance,
    RuleRef,
    Source,
    ValueType,
)
from crmsync.mapping.rules import DealFilter, MappingFile, OverrideRule, Position

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def deal(
    deal_id: str,
    company: str | None = "5001",
    stage: str = "closedwon",
    pipeline: str = "default",
    close: datetime | None = None,
    **props: str,
) -> Deal:
    """A HubSpot deal with string properties."""
    return Deal(
        Source.HUBSPOT,
        DealId(deal_id),
        company,
        stage,
        pipeline,
        close or datetime(2026, 3, 1, tzinfo=UTC),
        None,
        dict(props),
    )


def rule(
    feature: str = "seats", value_type: ValueType = ValueType.NUMERIC, line: int = 10, **fields: object
) -> OverrideRule:
    """An override rule written at mappings/hubspot.yaml:line."""
    if "source_property" not in fields and "constant" not in fields and value_type is not ValueType.UNLIMITED:
        fields["source_property"] = "seats_purchased"
    return OverrideRule(
        feature=feature, value_type=value_type, position=Position("mappings/hubspot.yaml", line, 5), **fields
    )  # type: ignore[arg-type]


def mapping(*rules: OverrideRule, stages: tuple[str, ...] = ("closedwon",), **fields: object) -> MappingFile:
    """A HubSpot mapping file around some rules."""
    return MappingFile(
        path="mappings/hubspot.yaml",
        source=Source.HUBSPOT,
        deals=DealFilter(stages=stages),
        company_key="hubspot_company_id",
        overrides=rules,
        **fields,
    )  # type: ignore[arg-type]


def numeric(n: int) -> OverrideValue:
    """A numeric value."""
    return OverrideValue(ValueType.NUMERIC, value_numeric=n)


def desired(company: str, feature: str, value: OverrideValue) -> DesiredOverride:
    """A desired override from one made-up deal."""
    return DesiredOverride(
        CompanyId(company),
        FeatureId(feature),
        value,
        Provenance(((Source.HUBSPOT, DealId("1")),), (RuleRef("m.yaml", 1, feature),)),
    )


def live(override_id: str, company: str, feature: str, value: OverrideValue) -> LiveOverride:
    """A live override."""
    return LiveOverride(OverrideId(override_id), CompanyId(company), FeatureId(feature), value)
