"""Reads mapping files: YAML (ruamel, with positions) → `rules.Mappings`, every problem at once.

The only YAML reader in crmsync; the CLI and the service call `load_mappings`. ruamel is
used here alone: its composed tree becomes `schema` nodes, and its errors become located
`Problem`s. Both entry points raise `MappingError` and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from crmsync.domain import Combine, DriftPolicy, Source
from crmsync.errors import MappingError, Problem
from crmsync.mapping import nodes, schema
from crmsync.mapping.nodes import Field, Fields, Map, Node, Report, Scalar, Seq
from crmsync.mapping.rules import DealFilter, MappingFile, Mappings, OverrideRule, Position

MAX_BYTES = 1024 * 1024  # mapping files are a few kilobytes; anything this big is the wrong file
SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("source", "deals", "opportunities", "company", "overrides", "combine", "drift", "on_conflict")
NEEDS = "a mapping file needs source:, deals: (or opportunities:), company: and overrides:"
TOP_HINTS = {
    "source": "add source: hubspot or source: salesforce",
    "company": "add company: with key: <Schematic company key>, e.g. key: hubspot_company_id",
    "overrides": "add overrides: with a list of '- feature: ...' entries",
}
SCALAR_KINDS = frozenset({"bool", "int", "float", "null", "merge"})  # other tags read as text
YAML_TROUBLE = (  # (what ruamel says, what we say, what to do), first match wins
    ("mapping values are not allowed", "a ':' where none fits", "quote a value with ': ' in it, or fix the indent"),
    ("could not find expected ':'", "this line is not 'key: value'", "add ':' after the key, or fix the indentation"),
    ("expected <block end>", "unexpected {found} here", "check this line's indentation and the quoting before it"),
    ("cannot start any token", "{found} cannot start a value", "put the value in quotes"),
    ("undefined alias", "'*' starts a YAML alias here", "put a value that starts with * in quotes"),
    ("another document", "a second YAML document ('---')", "keep one document per file; remove the second '---'"),
    ("end of stream", "a quote opened here is never closed", "close it with the same quote mark"),
)  # fmt: skip
FOUND = {"'?'": "a key", "'<scalar>'": "text", "'-'": "a list item"}  # ruamel token names, said plainly
TAB_HINT = "YAML indents with spaces only; replace each tab with spaces"


def load_mappings(folder: Path | str) -> Mappings:
    """Every *.yaml / *.yml file directly in `folder`, in path order; all problems of all files at once."""
    root = Path(folder)
    try:
        paths = yaml_files(root)
    except OSError as exc:
        what = "is not a folder" if root.exists() else "does not exist"
        hint = "pass the folder that holds the mapping files, e.g. mappings/"
        raise MappingError([Problem(str(root), 1, 1, f"the mapping folder {what}", hint)]) from exc
    if not paths:
        hint = f"add one, e.g. {root / 'hubspot.yaml'}; {NEEDS}"
        raise MappingError([Problem(str(root), 1, 1, "no mapping files (*.yaml or *.yml) in this folder", hint)])
    files: list[MappingFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            files.append(_load_path(path))
        except MappingError as exc:
            problems.extend(exc.problems)
    if problems:
        raise MappingError(problems)
    return Mappings(tuple(files))


def load_mappings_leniently(folder: Path | str) -> tuple[Mappings, list[Problem]]:
    """Every problem of `load_mappings`, and beside them what parsed: the valid files whole and, of a
    file with problems, its source, filter, company key and the overrides without problems (so that
    `validate` checks them online in the same run). A file without a readable source is left out."""
    try:
        return load_mappings(folder), []
    except MappingError as exc:
        problems = list(exc.problems)
    files: list[MappingFile] = []
    root = Path(folder)
    for path in yaml_files(root) if root.is_dir() else []:
        try:
            files.append(_load_path(path))
        except MappingError:
            part = _partial(path)
            if part is not None:
                files.append(part)
    return Mappings(tuple(files)), problems


def _partial(path: Path) -> MappingFile | None:
    """What parsed of a file with problems (see `load_mappings_leniently`)."""
    try:
        rep = Report()
        decoded = _decode(read_capped(path), str(path), rep)
        root = _parse(decoded, str(path), rep) if decoded is not None else None
        return _file(root, str(path), rep, partial=True) if root is not None else None
    except Exception:  # noqa: BLE001 - its problems are reported already; the online checks skip it
        return None


def yaml_files(folder: Path) -> list[Path]:
    """The *.yaml / *.yml files directly in `folder`, in path order; OSError when it cannot be listed."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def read_capped(path: Path) -> bytes:
    """A file's bytes, no more than the size limit plus one byte (to notice it is over); OSError as raised."""
    with path.open("rb") as handle:
        return handle.read(MAX_BYTES + 1)


def _load_path(path: Path) -> MappingFile:
    """One file, reading no more than the size limit (plus one byte to notice it is over)."""
    try:
        data = read_capped(path)
    except OSError as exc:
        hint = "check that the file exists and that crmsync may read it"
        raise MappingError([Problem(str(path), 1, 1, f"cannot read this file ({exc.strerror or exc})", hint)]) from exc
    return load_mapping_text(data, str(path))


def load_mapping_text(text: str | bytes, path: str) -> MappingFile:
    """One mapping file's content, reported as `path`; raises MappingError with every problem."""
    rep = Report()
    try:
        decoded = _decode(text, path, rep)
        root = _parse(decoded, path, rep) if decoded is not None else None
        result = _file(root, path, rep) if root is not None else None
    except Exception as exc:  # a bug of ours must still reach RevOps as a located problem
        hint = "this is a crmsync bug; please report it with the file"
        raise MappingError([Problem(path, 1, 1, f"internal error while reading: {exc!r}", hint)]) from exc
    if result is None or rep.problems:
        raise MappingError(rep.problems or [Problem(path, 1, 1, "this file could not be read", NEEDS)])
    return result


def read_yaml(text: str | bytes, path: str, rep: Report, needs: str = NEEDS) -> Node | None:
    """Any YAML file beside the mappings (test cases) as located plain nodes, or None after
    reporting why not; so ruamel stays in this module. `needs` is the hint for a file with
    nothing in it: what such a file must hold."""
    decoded = _decode(text, path, rep, needs)
    return _parse(decoded, path, rep, needs) if decoded is not None else None


def _decode(raw: str | bytes, path: str, rep: Report, needs: str = NEEDS) -> str | None:
    """The text of a file, or None after reporting it as too big, binary, not UTF-8 or empty."""
    start = Position(path, 1, 1)
    size = len(raw) if isinstance(raw, bytes) or len(raw) > MAX_BYTES else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        hint = "mapping files are a few kilobytes; check that this is the right file"
        rep.add(start, "this file is larger than 1 MB", hint)
        return None
    binary = b"\x00" in raw if isinstance(raw, bytes) else "\x00" in raw  # NUL: binary, or UTF-16 text
    if binary:
        rep.add(start, "this looks like a binary file, not text", "mapping files are UTF-8 text; remove this file")
        return None
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            rep.add(start, "this file is not UTF-8 text", "save it as UTF-8 text (editors offer this under 'encoding')")
            return None
    text = raw.removeprefix("\ufeff")
    if not text.strip():
        rep.add(start, "this file is empty", needs)
        return None
    return text


def _parse(text: str, path: str, rep: Report, needs: str = NEEDS) -> Node | None:
    """The YAML document as plain nodes, or None after reporting why it is not YAML."""
    yaml = YAML(typ="safe", pure=True)  # composing only: the round-trip comment machinery is not needed
    yaml.composer.warn_double_anchors = False  # a re-used anchor name is legal YAML; don't warn
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        _yaml_problem(exc, text, path, rep)
        return None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        hint = "remove it; it is often pasted in from another program"
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or " ")
        rep.add(Position(path, line, col), f"the invisible character U+{char:04X} is not allowed in YAML", hint)
        return None
    except RecursionError:
        rep.add(Position(path, 1, 1), "this file is nested too deeply to read", needs)
        return None
    if node is None:
        rep.add(Position(path, 1, 1), "this file holds only comments", needs)
        return None
    return _convert(node, path, {})


def _yaml_problem(exc: MarkedYAMLError, text: str, path: str, rep: Report) -> None:
    """Turn ruamel's error into a short located problem (tabs: one per tab-indented line)."""
    problem = str(exc.problem or exc.context or "not valid YAML").splitlines()[0]
    context = str(exc.context or "")
    mark = exc.problem_mark or exc.context_mark
    pos = Position(path, mark.line + 1, mark.column + 1) if mark is not None else Position(path, 1, 1)
    if "'\\t'" in problem:
        tabbed = _tab_indents(text, path)
        for tab in tabbed:
            rep.add(tab, "a tab is used for indentation", TAB_HINT)
        if pos not in tabbed:
            rep.add(pos, "a tab character here", "YAML separates with spaces only; replace the tab with a space")
        return
    if exc.context_mark is not None and context.startswith(("while parsing a flow", "while scanning a ")):
        stuck = f" (YAML got stuck at line {pos.line})" if context.startswith("while parsing") else ""
        pos = Position(path, exc.context_mark.line + 1, exc.context_mark.column + 1)
        if context.startswith("while parsing a flow"):
            hint = f"close it with ] or }} and separate its items with commas{stuck}"
            rep.add(pos, "not valid YAML: a [list] or {mapping} opened here is not closed properly", hint)
            return
    token = match.group(1) if (match := re.search(r"found (?:character )?('.*?')", problem)) else "'<scalar>'"
    for needle, message, hint in YAML_TROUBLE:
        if needle in problem:
            shown = FOUND.get(token, "text" if token.startswith("'<") else token)
            rep.add(pos, f"not valid YAML: {message.format(found=shown)}", hint)
            return
    rep.add(pos, f"not valid YAML: {problem}", "check the indentation and quoting here")


def _tab_indents(text: str, path: str) -> list[Position]:
    """The first tab in the indentation of every line that has one."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            out.append(Position(path, number, indent.index("\t") + 1))
    return out


def _convert(node: Any, path: str, seen: dict[int, Node]) -> Node:
    """A ruamel node as a plain node; aliases share one converted node, so cycles terminate."""
    if id(node) in seen:
        return seen[id(node)]
    pos = Position(path, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        mapping = seen[id(node)] = Map([], pos)
        mapping.pairs.extend((_convert(k, path, seen), _convert(v, path, seen)) for k, v in node.value)
        return mapping
    if isinstance(node, SequenceNode):
        seq = seen[id(node)] = Seq([], pos)
        seq.items.extend(_convert(item, path, seen) for item in node.value)
        return seq
    tag = str(getattr(node.tag, "value", node.tag))
    kind = tag.removeprefix("tag:yaml.org,2002:")
    return Scalar(str(node.value), kind if kind in SCALAR_KINDS else "str", pos)


def _file(root: Node, path: str, rep: Report, *, partial: bool = False) -> MappingFile | None:
    """The whole file: source, deal filter, company key, overrides and file-level policies.
    `partial`: whatever parsed, problems or not (None only without a source)."""
    if not isinstance(root, Map):
        hint = f"{NEEDS}, each at the start of a line"
        rep.add(root.pos, f"a mapping file must be 'key: value' settings, not {nodes.describe(root)}", hint)
        return None
    before = len(rep.problems)
    f = nodes.fields(root, TOP_KEYS, "at the top level", rep)
    for key, hint in TOP_HINTS.items():
        if f.lacks(key):
            rep.add(root.pos, f"this file has no {key}:", hint)
    source = nodes.choice(f.get("source"), Source, rep)
    deals = _deal_filter(f, source, root, rep)
    company, company_pos = _company(f.get("company"), rep)
    overrides = _overrides(f.get("overrides"), rep)
    combine = nodes.choice(f.get("combine"), Combine, rep) or Combine.MAX
    drift = nodes.choice(f.get("drift"), DriftPolicy, rep) or DriftPolicy.OVERWRITE
    on_conflict = nodes.one_of(f.get("on_conflict"), ("skip", "adopt"), rep) or "skip"
    if partial and source is not None:  # what parsed, for the online checks of `validate`
        deals, company = deals or DealFilter(()), company or ""
    elif len(rep.problems) > before or source is None or deals is None or company is None:
        return None
    return MappingFile(path, source, deals, company, overrides, combine, drift, on_conflict, root.pos, company_pos)


def _deal_filter(f: Fields, source: Source | None, root: Map, rep: Report) -> DealFilter | None:
    """`deals:` (HubSpot) or `opportunities:` (Salesforce): which deals count."""
    expected = {Source.HUBSPOT: "deals", Source.SALESFORCE: "opportunities"}.get(source) if source else None
    present = [key for key in ("deals", "opportunities") if key in f]
    if not present:
        if not f.lacks("deals") or not f.lacks("opportunities"):
            return None
        hint = f"add {expected or 'deals'}: with the stages that count, e.g. stages: [closedwon]"
        rep.add(root.pos, f"this file has no {expected or 'deals'}:", hint)
        return None
    if len(present) == 2 and expected is None:
        rep.add(
            f["opportunities"][0].pos,
            "give deals: or opportunities:, not both",
            "hubspot uses deals:, salesforce opportunities:",
        )
    result = None
    for key in present:
        if expected is not None and key != expected:
            rep.add(
                f[key][0].pos, f"a {source} file calls this {expected}:, not {key}:", f"rename {key}: to {expected}:"
            )
        result = _one_filter(f[key], rep) or result
    return result


def _one_filter(fld: Field, rep: Report) -> DealFilter | None:
    """The stages, pipelines and (Salesforce) record types under one filter key."""
    key, node = fld
    if not isinstance(node, Map):
        hint = f"for example {key.text}: {{stages: [closedwon]}}"
        rep.add(nodes.at(fld), f"{key.text}: must hold stages: (and pipelines:), not {nodes.describe(node)}", hint)
        return None
    allowed = ("pipelines", "stages", "record_types") if key.text == "opportunities" else ("pipelines", "stages")
    g = nodes.fields(node, allowed, f"under {key.text}:", rep)
    if g.lacks("stages"):
        rep.add(key.pos, f"{key.text}: has no stages:", "list the deal stages that count, e.g. stages: [closedwon]")
    stages = nodes.names(g.get("stages"), rep, "['Closed Won']" if key.text == "opportunities" else "[closedwon]")
    pipelines = nodes.names(g.get("pipelines"), rep, "[default]")
    record_types = nodes.names(g.get("record_types"), rep, "[Enterprise]")
    return DealFilter(stages, pipelines, record_types, _places(g)) if stages else None


def _places(g: Fields) -> dict[str, Position]:
    """Where the filter's lists and each of their names are written (`stages`, `stages.0`, …)."""
    places: dict[str, Position] = {}
    for key, fld in g.items():
        places[key] = nodes.at(fld)
        for i, item in enumerate(fld[1].items if isinstance(fld[1], Seq) else ()):
            places[f"{key}.{i}"] = item.pos
    return places


def _company(fld: Field | None, rep: Report) -> tuple[str | None, Position | None]:
    """`company: {key: …}`: the Schematic company key that holds the CRM's company id, and where."""
    if fld is None:
        return None, None
    if not isinstance(fld[1], Map):
        hint = "for example company: {key: hubspot_company_id}"
        rep.add(nodes.at(fld), f"company: must hold key:, not {nodes.describe(fld[1])}", hint)
        return None, None
    g = nodes.fields(fld[1], ("key",), "under company:", rep)
    if g.lacks("key"):
        hint = "name the Schematic company key that holds the CRM company id, e.g. key: hubspot_company_id"
        rep.add(fld[0].pos, "company: has no key:", hint)
    key = g.get("key")
    return nodes.name(key, rep, "hubspot_company_id"), nodes.at(key) if key else None


def _overrides(fld: Field | None, rep: Report) -> tuple[OverrideRule, ...]:
    """`overrides:` — a non-empty list of override rules."""
    if fld is None:
        return ()
    if not isinstance(fld[1], Seq) or not fld[1].items:
        shown = "an empty list" if isinstance(fld[1], Seq) else nodes.describe(fld[1])
        hint = "start each with '- feature: <name>'"
        rep.add(nodes.at(fld), f"overrides: must be a list of overrides, not {shown}", hint)
        return ()
    rules = [schema.override_rule(item, rep) for item in fld[1].items]
    return tuple(rule for rule in rules if rule is not None)
