"""config/crmsync.toml is strict: unknown sections and keys and bad values are `file:line` errors with
a did-you-mean, exit 2, every one at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.config_check import (
    COUNT,
    EXAMPLES,
    KNOWN,
    NUMBER,
    POSITIVE,
    TEXT,
    WHOLE,
    ConfigProblems,
    typed,
    unfit,
)
from crmsync.settings import load_settings
from crmsync.settings_groups import WebSettings

BAD = """\
[hubspt]
searches_per_second = 2.0

[guards]
max_pct = 5
min_existing = -1
max_count = 20
"""


def problems(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    """The config file written with `text`, and the located lines loading it refuses it with."""
    path = tmp_path / "crmsync.toml"
    path.write_text(text)
    with pytest.raises(ConfigProblems) as caught:
        load_settings({"CRMSYNC_CONFIG": str(path)})
    return path, caught.value.lines


def test_every_problem_is_reported_at_its_line_with_a_did_you_mean(tmp_path: Path) -> None:
    """An unknown section, an unknown key and a bad value: three located lines, in file order."""
    path, lines = problems(tmp_path, BAD)
    assert lines == [
        f"{path}:1:1: unknown section [hubspt]; did you mean 'hubspot'?",
        f"{path}:5:1: unknown key 'max_pct' in [guards]; did you mean 'max_percent'?",
        f"{path}:6:1: [guards] min_existing must be a number ≥ 0, not -1; e.g. min_existing = 10",
    ]


def test_the_cli_exits_2_naming_every_problem(tmp_path: Path) -> None:
    """`crmsync validate --offline` with a bad config file: exit 2, each problem on its own line, nothing run."""
    path = tmp_path / "crmsync.toml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["validate", "--offline"], env={"CRMSYNC_CONFIG": str(path)})
    assert result.exit_code == 2
    assert "3 problems in" in result.output and f"{path}:5:1: unknown key 'max_pct'" in result.output


def test_the_shipped_config_and_its_settings_are_accepted(tmp_path: Path) -> None:
    """Every key the shipped file documents, uncommented, is known and says its default (the file is the reference)."""
    shipped = (Path(__file__).parents[2] / "config" / "crmsync.toml").read_text()
    uncommented = "\n".join(
        line.removeprefix("# ").split("#")[0] if line.startswith("# ") and "=" in line else line
        for line in shipped.splitlines()
    )
    path = tmp_path / "crmsync.toml"
    path.write_text(uncommented)
    settings = load_settings({"CRMSYNC_CONFIG": str(path)})
    assert (settings.guards.max_percent, settings.guards.min_existing) == (10.0, 10)
    assert "[web]" in shipped and settings.web == WebSettings()  # the documented limits are the defaults


BAD_WEB = """\
[web]
body_timeout = 0
  max_slow_bodies = 2.5
max_json_deep = 8
failed_tokens_per_minute = 0.5
notifications_per_minute = -1
keep_alive = 0
"""


def test_bad_web_limits_are_located_and_say_what_to_write(tmp_path: Path) -> None:
    """[web]: a zero deadline, a fractional or below-one count, a typo: each at its line:col, with the default."""
    path, lines = problems(tmp_path, BAD_WEB)
    assert lines == [
        f"{path}:2:1: [web] body_timeout must be a number > 0, not 0; e.g. body_timeout = 10",
        f"{path}:3:3: [web] max_slow_bodies must be a whole number ≥ 1, not 2.5; e.g. max_slow_bodies = 64",
        f"{path}:4:1: unknown key 'max_json_deep' in [web]; did you mean 'max_json_depth'?",
        f"{path}:5:1: [web] failed_tokens_per_minute must be a number ≥ 1, not 0.5; e.g. failed_tokens_per_minute = 10",
        f"{path}:6:1: [web] notifications_per_minute must be a number > 0, not -1; e.g. notifications_per_minute"
        " = 2000",
    ]  # keep_alive = 0 is allowed: no keep-alive


def test_serve_exits_2_on_a_bad_web_limit(tmp_path: Path) -> None:
    """`crmsync serve` with `[web] max_notifications = 0`: exit 2, one located line, nothing started."""
    path = tmp_path / "crmsync.toml"
    path.write_text("[web]\nmax_notifications = 0\n")
    result = CliRunner().invoke(app, ["serve"], env={"CRMSYNC_CONFIG": str(path)})
    assert result.exit_code == 2, result.output
    assert f"{path}:2:1: [web] max_notifications must be a whole number ≥ 1, not 0" in result.output
    assert "Traceback" not in result.output


def test_every_web_key_is_a_web_setting_and_its_example_the_default() -> None:
    """[web]'s keys are WebSettings fields of their names; each suggested value is the field's default."""
    defaults = WebSettings()
    for key in KNOWN["web"]:
        assert hasattr(defaults, key), key
    for (section, key), example in EXAMPLES.items():
        if section == "web":
            assert float(example) == getattr(defaults, key), key


@pytest.mark.parametrize(
    ("value", "kind", "read"),
    [(5.0, WHOLE, 5), (3, COUNT, 3), (2, POSITIVE, 2.0), (0, NUMBER, 0.0), ("0 * * * *", TEXT, "0 * * * *")],
    ids=["whole-written-as-float", "count", "positive", "number", "text"],
)
def test_a_checked_value_is_typed_by_its_kind(value: object, kind: str, read: object) -> None:
    """The reader takes a passed value as its kind says (ints for counts, floats for numbers); no second check."""
    assert unfit(value, kind) is None
    assert typed(value, kind) == read and type(typed(value, kind)) is type(read)
