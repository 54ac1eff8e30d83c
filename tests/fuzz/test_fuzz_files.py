"""Fuzzed mapping and config files: only located, one-line errors (at the right line), never a
traceback, never a write. `CRMSYNC_FUZZ_EXAMPLES` sets the examples per property (default 150)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmsync.errors import ConfigError, MappingError
from crmsync.mapping.loader import load_mapping_text
from crmsync.settings import load_settings

EXAMPLES = int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

TEMPLATE = [
    "source: hubspot",
    "deals:",
    "  stages: [closedwon]",
    "company:",
    "  key: hubspot_company_id",
    "overrides:",
    "  - feature: seats",
    "    type: numeric",
    "    from: seats_purchased",
    "    default: 5",
    "    multiply: 1",
    "    expires_after_days: 365",
    "  - feature: SSO",
    "    type: boolean",
    "    value: true",
    "    when:",
    '      sso_addon: {">=": 1}',
    "combine: max",
]
VALUE_LINES = {  # line number (1-based) → the key whose value is fuzzed there
    3: "  stages: ",
    5: "  key: ",
    8: "    type: ",
    9: "    from: ",
    10: "    default: ",
    11: "    multiply: ",
    12: "    expires_after_days: ",
    15: "    value: ",
    17: "      sso_addon: ",
    18: "combine: ",
}

digits = st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=12)
huge = st.integers(min_value=10**18, max_value=10**400).map(str)
values = st.one_of(
    st.text(max_size=40),
    digits,
    huge,
    st.sampled_from(
        [
            "1e999999999",
            "-1",
            "1.5",
            "0x10",
            "inf",
            ".nan",
            "~",
            "null",
            "[]",
            "{}",
            "&a x",
            "*a",
            "!!binary x",
            "|",
            ">",
            "'open",
            '"open',
            "[1, 2",
            "{a: 1",
            "@x",
            "`x",
            "%x",
            "- x",
            "a: b: c",
            "#",
            "9" * 5000,
            "١٢٣",
            "５０",
            "\t1",
            "yes",
            "on",
            "2026-13-45",
        ]
    ),
)


def text_with(line: int, raw: str) -> str:
    """The template with line `line`'s value replaced by `raw`."""
    lines = list(TEMPLATE)
    lines[line - 1] = VALUE_LINES[line] + raw
    return "\n".join(lines) + "\n"


def check_located(error: MappingError, lines: int, want_line: int | None = None) -> None:
    """Every problem is one line, within the file, never an internal error; one is at `want_line`."""
    for problem in error.problems:
        assert "\n" not in str(problem) and "internal error" not in problem.message, str(problem)
        assert 1 <= problem.line <= lines + 1 and problem.col >= 1, str(problem)
        assert len(str(problem)) < 1000, str(problem)[:300]
    if want_line is not None:
        assert any(p.line == want_line for p in error.problems), [str(p) for p in error.problems]


def test_the_template_is_valid() -> None:
    """The file the fuzzing starts from loads."""
    assert load_mapping_text("\n".join(TEMPLATE) + "\n", "m.yaml").overrides


@FUZZ
@given(st.sampled_from(sorted(VALUE_LINES)), values)
def test_a_fuzzed_quoted_value_is_reported_at_its_line(line: int, value: str) -> None:
    """Any value, quoted, on any line: it loads, or every problem is located and one is at that line."""
    try:
        load_mapping_text(text_with(line, json.dumps(value)), "m.yaml")
    except MappingError as exc:
        check_located(exc, len(TEMPLATE), line)


@FUZZ
@given(st.sampled_from(sorted(VALUE_LINES)), values.filter(lambda v: not any(c in v for c in "\n\r\x00")))
def test_a_fuzzed_raw_value_is_reported_at_its_line(line: int, value: str) -> None:
    """Any value written as is (YAML syntax included): it loads, or the problems are located, one at that line."""
    try:
        load_mapping_text(text_with(line, value), "m.yaml")
    except MappingError as exc:
        # an unclosed quote runs on to the next quote in the file: YAML fails there, later
        opens = value.lstrip().startswith(("'", '"')) and value.count(value.lstrip()[0]) % 2 == 1
        check_located(exc, len(TEMPLATE), None if opens else line)


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_any_bytes_are_a_mapping_or_located_problems(data: bytes | str) -> None:
    """Random bytes or text never raise anything but MappingError, with problems inside the file."""
    try:
        load_mapping_text(data, "m.yaml")
    except MappingError as exc:
        lines = (data.count(b"\n") if isinstance(data, bytes) else data.count("\n")) + 1
        check_located(exc, lines)


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(TEMPLATE) - 1), st.text(max_size=8)), min_size=1, max_size=4),
)
def test_a_mutated_mapping_is_a_mapping_or_located_problems(edits: list[tuple[int, str]]) -> None:
    """Characters spliced into random lines: a mapping, or located problems, never a traceback."""
    lines = list(TEMPLATE)
    for index, chunk in edits:
        at = len(lines[index]) // 2
        lines[index] = lines[index][:at] + chunk + lines[index][at:]
    text = "\n".join(lines) + "\n"
    try:
        load_mapping_text(text, "m.yaml")
    except MappingError as exc:
        check_located(exc, text.count("\n") + 1)


toml_values = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).replace("inf", "inf").replace("nan", "nan")),
    st.text(max_size=20).map(json.dumps),
    st.sampled_from(["true", "[]", "{}", "[1, 2]", "1979-05-27", "{a = 1}", "'x'", "nan", "-inf", "1_000", "0x10"]),
    st.text(max_size=20),
)
toml_keys = st.sampled_from(
    [
        "[schematic]\ndeadline",
        "[schematic]\ntimeout",
        "[schematic]\nattempts",
        "[schematic]\nretry_after_max",
        "[hubspot]\ndeadline",
        "[hubspot]\nsearches_per_second",
        "[salesforce]\ndeadline",
        "[guards]\nmax_count",
        "[guards]\nmax_percent",
        "[guards]\nmin_affected",
        "schematic",
        "guards",
    ]
)


@FUZZ
@given(toml_keys, toml_values)
def test_a_fuzzed_config_value_is_a_one_line_config_error(tmp_path_factory: object, key: str, value: str) -> None:
    """Any value for any setting: settings load, or one ConfigError line naming the key or the TOML line."""
    path = Path(str(tmp_path_factory.mktemp("cfg"))) / "c.toml"  # type: ignore[attr-defined]
    path.write_text(f"{key} = {value}\n", encoding="utf-8")
    try:
        load_settings({"CRMSYNC_CONFIG": str(path)})
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message.strip() and len(message) < 400, message[:300]
        name = key.rsplit("\n", 1)[-1].strip("[]")
        assert name in message or "line" in message or "TOML" in message, message
