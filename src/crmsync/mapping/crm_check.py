"""Checks of mapping files against what the CRMs and Schematic say: properties and fields, their
types, pipelines, stages, record types, the company key and traits — each a located problem with
a did-you-mean.

Pure: `service/preflight.py` fetches the CRM schemas (`crm_schema.py`), Schematic's company keys
and traits, and calls these for `validate`, `plan` and `apply` alike.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace

from crmsync.domain import Source, ValueType
from crmsync.errors import Problem
from crmsync.mapping.check import candidates
from crmsync.mapping.crm_schema import CrmField, CrmSchema, CrmStage, FieldKind, Trait
from crmsync.mapping.nodes import did_you_mean
from crmsync.mapping.rules import DealFilter, MappingFile, Mappings, OverrideRule, Position

WORD = {Source.HUBSPOT: "deal property", Source.SALESFORCE: "Opportunity field"}
LISTS_ALL = " (crmsync schema stages lists them with their labels)"
# What a rule needs of the field it reads, by use: (kinds that fit, what to say). A text field gives a
# number or a boolean only when the rule says `parse: text` (else `validate` passes and every deal fails).
DATES = (frozenset({FieldKind.DATE}), "a date")
NUMBERS = (frozenset({FieldKind.NUMBER}), "a number")
BOOLEANS = (frozenset({FieldKind.BOOLEAN}), "true or false")
PARSED = (frozenset(FieldKind) - {FieldKind.DATE}, "a value that is not a date")
BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "1", "0"})


def _problem(pos: Position, message: str, hint: str) -> Problem:
    return Problem(pos.path, pos.line, pos.col, message, hint)


def _guess(word: str, choices: Sequence[str], then: str) -> str:
    """`did you mean 'x'? <then>`, or just `<then>`."""
    guess = did_you_mean(word, choices)
    return f"did you mean '{guess}'? {then}" if guess else then


# --- deal properties / Opportunity fields ------------------------------------------------------
def _uses(rule: OverrideRule) -> Iterator[tuple[str, Position, tuple[frozenset[FieldKind], str] | None]]:
    """Every field a rule reads, where it is written, and what kind of value it must hold."""
    if rule.source_property:
        need = None if rule.lookup is not None else PARSED if rule.parse == "text" else _need(rule.value_type)
        yield rule.source_property, rule.places.get("from", rule.position), need
    if rule.expires_from:
        yield rule.expires_from, rule.places.get("expires_from", rule.position), DATES
    if rule.starts_from:
        yield rule.starts_from, rule.places.get("starts_from", rule.position), DATES
    for cond in rule.when:
        yield cond.prop, cond.position or rule.position, None


def _need(value_type: ValueType) -> tuple[frozenset[FieldKind], str] | None:
    if value_type is ValueType.NUMERIC:
        return NUMBERS
    if value_type is ValueType.BOOLEAN:
        return BOOLEANS
    return None


def _field_problem(name: str, pos: Position, schema: CrmSchema) -> Problem | None:
    """A problem when `name` is no field of the CRM's deals."""
    if "." in name and schema.source is Source.SALESFORCE:
        return None  # a relationship path (Account.Name): Salesforce checks it when queried
    if schema.field(name) is not None:
        return None
    word = WORD[schema.source]
    by_label = next((f for f in schema.fields if f.label.strip().lower() == name.strip().lower()), None)
    if by_label is not None:
        hint = f"'{name}' is the label of '{by_label.name}'; mapping files name the internal (API) name"
        return _problem(pos, f"unknown {word} '{name}'", f"use '{by_label.name}'; {hint}")
    names = [f.name for f in schema.fields]
    custom = " (custom fields end in __c)" if schema.source is Source.SALESFORCE else ""
    then = f"check the internal name{custom}; {candidates(names, 'properties', schema.source.value)}"
    guess = did_you_mean(name, names)
    hint = f"did you mean '{guess}'? check the internal name in the CRM's settings{custom}" if guess else then
    return _problem(pos, f"unknown {word} '{name}'", hint)


def _type_problem(field: CrmField, pos: Position, need: tuple[frozenset[FieldKind], str], word: str) -> Problem | None:
    kinds, what = need
    if field.kind in kinds or _choices_fit(field, need):
        return None
    shown = field.crm_type or field.kind.value
    hint = f"this use needs {what}; pick a {word} of a fitting type, or change the rule"
    if need in (NUMBERS, BOOLEANS) and field.kind is not FieldKind.DATE:
        hint = (f"a {'number' if need is NUMBERS else 'boolean'} override needs {what}: translate its values "
                "with map: {…}, or add parse: text to this rule to read the text as one (a deal whose text "
                "is not one is then a deal error)")  # fmt: skip
    return _problem(pos, f"{word} '{field.name}' holds {shown} values", hint)


def _choices_fit(field: CrmField, need: tuple[frozenset[FieldKind], str]) -> bool:
    """An enumeration whose every option is a whole number (or a boolean word) gives that type."""
    if field.kind is not FieldKind.CHOICE or not field.options:
        return False
    if need is NUMBERS:
        return all(o.strip().isdigit() for o in field.options)
    return need is BOOLEANS and all(o.strip().lower() in BOOLEAN_WORDS for o in field.options)


def _when_problems(rule: OverrideRule, schema: CrmSchema) -> Iterator[Problem]:
    """`when:` values of an enumeration property are among its options (a label is answered with its value)."""
    for cond in rule.when:
        field = schema.field(cond.prop)
        if field is None or field.kind is not FieldKind.CHOICE or not field.options or not cond.values:
            continue
        folded = {o.strip().casefold() for o in field.options}
        for value in (v for v in cond.values if v.strip().casefold() not in folded):
            pos = cond.position or rule.position
            labelled = [o for o in field.options if field.label_of(o).strip().casefold() == value.strip().casefold()]
            if labelled:
                ids = " or ".join(f"'{o}'" for o in labelled)
                hint = f"'{value}' is the label of {ids}; when: compares the internal values: write {ids}"
            else:
                shown = [o if field.label_of(o) == o else f"{o} ({field.label_of(o)})" for o in field.options]
                then = f"the options are: {', '.join(shown[:12])}{', …' if len(shown) > 12 else ''}"
                hint = _guess(value, list(field.options), f"{then} (crmsync schema properties lists them)")
            yield _problem(pos, f"when: {cond.prop}: '{value}' is not one of its options", hint)


def check_fields(file: MappingFile, schema: CrmSchema) -> list[Problem]:
    """Every property a file's rules read exists on the CRM's deals, with a type that fits its use;
    `when:` values of an enumeration are among its options."""
    problems: list[Problem] = []
    for rule in file.overrides:
        problems.extend(_when_problems(rule, schema))
        for name, pos, need in _uses(rule):
            unknown = _field_problem(name, pos, schema)
            field = schema.field(name)
            if unknown is not None:
                problems.append(unknown)
            elif field is not None and need is not None:
                typed = _type_problem(field, pos, need, WORD[schema.source])
                problems.extend([typed] if typed else [])
    return problems


# --- pipelines, stages, record types -----------------------------------------------------------
def _names(flt: DealFilter, key: str) -> Iterator[tuple[str, Position]]:
    values: tuple[str, ...] = getattr(flt, key) or ()
    fallback = flt.places.get(key)
    for i, value in enumerate(values):
        pos = flt.places.get(f"{key}.{i}", fallback)
        if pos is not None:
            yield value, pos


def _by_id_or_label(word: str, items: Sequence[CrmStage], what: str, listing: str) -> str | None:
    """None when `word` is an id; else the hint: the id of the label it is, or a did-you-mean."""
    folded = word.casefold()
    if any(i.id.casefold() == folded for i in items):
        return None
    labelled = [i for i in items if i.label.strip().casefold() == folded.strip()]
    if labelled:
        ids = " or ".join(f"'{i.id}'" for i in labelled)
        return f"'{word}' is the label of {what} {ids}; mapping files name {what}s by id: write {ids}"
    return _guess(word, [i.id for i in items] + [i.label for i in items], f"{listing}: {_few(items)}{LISTS_ALL}")


def _few(items: Sequence[CrmStage]) -> str:
    shown = [f"{i.id} ({i.label})" if i.label != i.id else i.id for i in items[:12]]
    return ", ".join(shown) + (", …" if len(items) > 12 else "")


def check_stages(file: MappingFile, schema: CrmSchema) -> list[Problem]:
    """Pipelines and stages exist (HubSpot: ids, a label is answered with its id); Salesforce stages
    are StageName values and record types are the org's."""
    problems: list[Problem] = []
    flt = file.deals
    pipelines = schema.pipelines
    if schema.source is Source.HUBSPOT:
        items = [CrmStage(p.id, p.label) for p in pipelines]
        for word, pos in _names(flt, "pipelines"):
            answer = _by_id_or_label(word, items, "pipeline", "the pipelines are")
            if answer is not None:
                problems.append(_problem(pos, f"unknown pipeline '{word}'", str(answer)))
        wanted = {p.casefold() for p in flt.pipelines or ()}
        chosen = [p for p in pipelines if p.id.casefold() in wanted]
        if len(chosen) < len(wanted) or not chosen:  # an unknown pipeline: judge stages by them all
            chosen, wanted = list(pipelines), set()
        stages = [s for p in chosen for s in p.stages]
        where = "the chosen pipelines" if wanted else "any pipeline"
    else:
        stages, where = list(schema.stages), "StageName's picklist"
    for word, pos in _names(flt, "stages"):
        answer = _by_id_or_label(word, stages, "stage", f"the stages of {where} are")
        if answer is not None:
            problems.append(_problem(pos, f"unknown stage '{word}' (not in {where})", str(answer)))
    problems.extend(_record_type_problems(flt, schema))
    return problems


def _record_type_problems(flt: DealFilter, schema: CrmSchema) -> Iterator[Problem]:
    if schema.source is not Source.SALESFORCE or not flt.record_types:
        return
    if not schema.record_types:
        pos = flt.places.get("record_types")
        if pos is not None:
            hint = "remove record_types: (every won Opportunity counts), or create the record types first"
            yield _problem(pos, "this Salesforce org has no Opportunity record types", hint)
        return
    known = {r.casefold() for r in schema.record_types}
    for word, pos in _names(flt, "record_types"):
        if word.casefold() not in known:
            then = "record types are named by developer name: " + ", ".join(schema.record_types)
            yield _problem(pos, f"unknown record type '{word}'", _guess(word, schema.record_types, then))


def check_crm(mappings: Mappings, schemas: Mapping[Source, CrmSchema]) -> list[Problem]:
    """Every file checked against its CRM's schema (files of a CRM without one are skipped)."""
    problems: list[Problem] = []
    for file in mappings.files:
        schema = schemas.get(file.source)
        if schema is not None:
            problems += check_fields(file, schema) + check_stages(file, schema)
    return sorted(set(problems))


# --- Schematic: the company key, traits --------------------------------------------------------
def check_company_keys(mappings: Mappings, carried: Collection[str], companies: int) -> tuple[list[Problem], list[str]]:
    """A `company: key:` no Schematic company carries: an error when a carried key looks like it
    (a typo), else a warning (companies may not have been given the key yet)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    for file in mappings.files:
        if not file.company_key or file.company_key in carried:
            continue
        pos = file.company_position or file.position or Position(file.path, 1, 1)
        guess = did_you_mean(file.company_key, sorted(carried))
        message = f"no Schematic company carries the key '{file.company_key}'"
        if guess is not None:
            hint = f"did you mean '{guess}'? the key must be the one Schematic companies carry"
            problems.append(_problem(pos, message, hint))
        else:
            keys = ", ".join(sorted(carried)) or "none"
            pending = "its deals stay pending"
            warnings.append(f"{pos}: {message} (of {companies} companies; their keys: {keys}); {pending}")
    return problems, warnings


def resolve_traits(mappings: Mappings, traits: Sequence[Trait]) -> tuple[Mappings, list[Problem]]:
    """`trait:` by id or exact name → the trait id (the rule's constant); a located problem otherwise."""
    problems: list[Problem] = []
    files = []
    for file in mappings.files:
        rules = []
        for rule in file.overrides:
            if rule.trait is None:
                rules.append(rule)
                continue
            found, problem = _trait(rule, traits)
            if problem is not None:
                problems.append(problem)
            rules.append(replace(rule, trait=found or rule.trait, constant=found or rule.constant))
        files.append(replace(file, overrides=tuple(rules)))
    return Mappings(tuple(files)), problems


def _trait(rule: OverrideRule, traits: Sequence[Trait]) -> tuple[str | None, Problem | None]:
    text = rule.trait or ""
    pos = rule.places.get("trait", rule.position)
    by_id = [t for t in traits if t.id == text]
    by_name = [t for t in traits if t.name == text]
    if by_id:
        return by_id[0].id, None
    if len(by_name) == 1:
        return by_name[0].id, None
    if by_name:
        ids = ", ".join(sorted(t.id for t in by_name))
        return None, _problem(pos, f"{len(by_name)} traits are named '{text}' ({ids})", "use the trait's id instead")
    then = f"traits are matched by id or exact name; {candidates([t.name for t in traits], 'traits')}"
    return None, _problem(pos, f"unknown trait '{text}'", _guess(text, [t.name for t in traits], then))
