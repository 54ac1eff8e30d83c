"""Mapping files checked against what the CRMs and Schematic say (pure: schemas as literals)."""

from __future__ import annotations

from crmsync.domain import Source
from crmsync.mapping.crm_check import check_company_keys, check_crm, resolve_traits
from crmsync.mapping.crm_schema import CrmField, CrmPipeline, CrmSchema, CrmStage, FieldKind, Trait
from crmsync.mapping.loader import load_mapping_text
from crmsync.mapping.rules import Mappings
from tests.mapping_texts import hubspot_seats

HUBSPOT = CrmSchema(
    Source.HUBSPOT,
    (
        CrmField("seats_purchased", FieldKind.NUMBER, "Seats purchased", crm_type="number"),
        CrmField("contract_end_date", FieldKind.DATE, "Contract end", crm_type="date"),
        CrmField("plan_name", FieldKind.TEXT, "Plan name", crm_type="string"),
    ),
    pipelines=(CrmPipeline("default", "Sales Pipeline", (CrmStage("closedwon", "Closed won"),)),),
)
FILE = hubspot_seats("type: numeric", "from: {prop}", "expires_from: {expiry}")


def mappings(prop: str = "seats_purchased", expiry: str = "contract_end_date", text: str = FILE) -> Mappings:
    return Mappings((load_mapping_text(text.format(prop=prop, expiry=expiry), "m.yaml"),))


def test_known_properties_of_fitting_types_pass() -> None:
    """A file reading existing properties of fitting types has no problem."""
    assert check_crm(mappings(), {Source.HUBSPOT: HUBSPOT}) == []


def test_a_property_given_by_its_label_is_answered_with_its_name() -> None:
    """`from: Seats purchased` (the label) is answered with the internal name."""
    (problem,) = check_crm(mappings("Seats purchased"), {Source.HUBSPOT: HUBSPOT})
    assert (problem.line, problem.col) == (9, 11) and "use 'seats_purchased'" in problem.hint


def test_an_expiry_read_from_text_is_a_type_problem() -> None:
    """expires_from: must name a date property."""
    (problem,) = check_crm(mappings(expiry="plan_name"), {Source.HUBSPOT: HUBSPOT})
    assert problem.message == "deal property 'plan_name' holds string values" and "a date" in problem.hint


def test_a_source_without_a_schema_is_not_checked() -> None:
    """Files of a CRM whose schema was not fetched are skipped (offline, or no connector)."""
    assert check_crm(mappings("nonsense"), {}) == []


def test_a_company_key_typo_is_an_error_and_an_unrelated_key_a_warning() -> None:
    """A carried key close to the written one: error with did-you-mean; nothing close: warning."""
    problems, warnings = check_company_keys(mappings(), {"hubspot_company_idd"}, 3)
    assert "did you mean 'hubspot_company_idd'?" in problems[0].hint and warnings == []
    problems, warnings = check_company_keys(mappings(), {"stripe_id"}, 3)
    assert problems == [] and "no Schematic company carries the key 'hubspot_company_id'" in warnings[0]


def test_traits_resolve_by_id_or_name_and_ambiguity_is_a_problem() -> None:
    """trait: by name becomes the id; two traits with one name need the id."""
    text = FILE.replace(
        "    type: numeric\n    from: {prop}\n    expires_from: {expiry}\n", "    type: trait\n    trait: Seats\n"
    )
    resolved, problems = resolve_traits(mappings(text=text), [Trait("etdef_1", "Seats")])
    assert problems == [] and resolved.files[0].overrides[0].constant == "etdef_1"
    _, problems = resolve_traits(mappings(text=text), [Trait("etdef_1", "Seats"), Trait("etdef_2", "Seats")])
    assert "2 traits are named 'Seats'" in problems[0].message


def test_an_unknown_property_without_a_near_match_lists_candidates_and_the_command() -> None:
    """`from: quantity` (nothing close) lists the properties and points to `crmsync schema properties`."""
    (problem,) = check_crm(mappings("quantity"), {Source.HUBSPOT: HUBSPOT})
    assert problem.message == "unknown deal property 'quantity'"
    assert problem.hint == (
        "check the internal name; they are: 'contract_end_date', 'plan_name', 'seats_purchased'; "
        "crmsync schema properties --source hubspot lists them all"
    )


def test_an_unknown_trait_without_a_near_match_lists_candidates_and_the_command() -> None:
    """`trait: Headcount` (nothing close) lists a few traits and points to `crmsync schema traits`."""
    text = FILE.replace(
        "type: numeric\n    from: {prop}\n    expires_from: {expiry}", "type: trait\n    trait: Headcount"
    )
    traits = [Trait(f"etdef_{i}", f"Trait {i}") for i in range(7)]
    _, problems = resolve_traits(mappings(text=text), traits)
    assert problems[0].hint.endswith(
        "some are: 'Trait 0', 'Trait 1', 'Trait 2', 'Trait 3', 'Trait 4', …; crmsync schema traits lists them all"
    )


def test_an_unknown_stage_points_to_the_command_listing_stages_with_labels() -> None:
    """A stage with nothing close lists the stages and names `crmsync schema stages`."""
    text = FILE.replace("[closedwon]", "[signed]")
    problems = check_crm(mappings(text=text), {Source.HUBSPOT: HUBSPOT})
    assert problems[0].hint.endswith("closedwon (Closed won) (crmsync schema stages lists them with their labels)")
