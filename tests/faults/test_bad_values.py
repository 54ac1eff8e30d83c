"""Defects found by the reliability probe (issue 12), pure side: one bad deal value is that deal's
problem only, error messages quote values shortened, numbers are ASCII digits, URLs are redacted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from crmsync.connectors import hubspot_convert
from crmsync.connectors.salesforce_soql import render
from crmsync.domain import FeatureId
from crmsync.errors import ConfigError, MappingError, quote
from crmsync.mapping.loader import load_mapping_text
from crmsync.mapping.translate import translate
from crmsync.mapping.values import BadValue, parse_decimal, parse_instant, parse_whole
from crmsync.redaction import redact_url
from crmsync.settings import load_settings
from crmsync.store.repository import redact
from tests.core.builders import NOW, deal, mapping, rule

FEATURES = {"seats": FeatureId("feat_seats")}
MAPPING = (
    "source: hubspot\ndeals:\n  stages: [closedwon]\ncompany:\n  key: k\noverrides:\n"
    "  - feature: seats\n    type: numeric\n    from: x\n    default: {}\n"
)


@pytest.mark.parametrize("end", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1" * 400])
def test_a_date_past_what_utc_holds_is_a_problem_of_that_deal(end: str) -> None:
    """A contract end that overflows in UTC is reported for its deal; the other deal proceeds."""
    result = translate(
        [deal("1", seats_purchased="5", end=end), deal("2", seats_purchased="5")],
        [mapping(rule(expires_from="end"))],
        FEATURES,
        NOW,
    )
    assert [p.deal_id for p in result.problems] == ["1"] and [c.deal.id for c in result.contributions] == ["2"]


@pytest.mark.parametrize("closedate", ["1" * 400, "9999-12-31T23:59:59-23:59", "２０２６-01-01", "9" * 5000])
def test_an_absurd_hubspot_close_date_is_no_close_date(closedate: str) -> None:
    """Converting a HubSpot deal whose closedate cannot be a datetime gives no close date, not a crash."""
    raw = {"id": "7", "properties": {"dealstage": "closedwon", "closedate": closedate}}
    assert hubspot_convert.deal(raw).close_date is None


@pytest.mark.parametrize("raw", ["١٢٣", "５０", "٣.٥", "1e5", "²"])
def test_numbers_are_ascii_digits_only(raw: str) -> None:
    """Arabic-Indic and full-width digits are bad values, not silently numbers."""
    with pytest.raises(BadValue):
        parse_decimal(raw)
    with pytest.raises(BadValue):
        parse_whole(raw)


def test_unicode_digits_are_not_epoch_milliseconds() -> None:
    """A date of non-ASCII digits is a bad value (and never reaches int())."""
    with pytest.raises(BadValue):
        parse_instant("١٢٣٤٥٦٧٨٩٠١٢", end_of_day=True)


@pytest.mark.parametrize("value", ["١٢٣", "５０"])
def test_a_mapping_default_of_unicode_digits_is_a_located_error(value: str) -> None:
    """`default: ١٢٣` is reported at its line and column, as any other non-number."""
    with pytest.raises(MappingError) as caught:
        load_mapping_text(MAPPING.format(value), "m.yaml")
    assert str(caught.value.problems[0]).startswith("m.yaml:10:14: default:")


def test_a_huge_mapping_default_is_located_not_an_internal_error() -> None:
    """A 100,000-digit `default:` is reported at 10:14 as too large, shortened, not at 1:1 as a bug."""
    with pytest.raises(MappingError) as caught:
        load_mapping_text(MAPPING.format("9" * 100_000), "m.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.col) == (10, 14) and "too large" in problem.message
    assert "internal error" not in str(problem) and len(str(problem)) < 400


def test_a_bad_value_of_ten_megabytes_is_quoted_shortened() -> None:
    """The problem reported for a 10 MB property quotes about 200 characters and says how long it was."""
    huge = "x" * 10_000_000
    result = translate([deal("1", seats_purchased=huge)], [mapping(rule())], FEATURES, NOW)
    (problem,) = result.problems
    assert len(problem.message) < 400 and "10,000,000 characters" in problem.message


def test_quote_keeps_short_values_whole() -> None:
    """Short values are quoted as repr; long ones are cut."""
    assert quote("abc") == "'abc'"
    assert len(quote("y" * 5000)) < 260


def test_a_salesforce_number_with_a_huge_exponent_stays_text() -> None:
    """A Salesforce number of 10**400 is rendered as written (translation reports it), not expanded."""
    from decimal import Decimal

    assert render(Decimal("1E+400")) == "1E+400"
    assert render(Decimal("5")) == "5"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql+psycopg://crm@db/x?password=hunter2", "hunter2"),
        ("postgresql+psycopg://crm:hunter2@db/x", "hunter2"),
        ("http://user:hunter2@127.0.0.1:8080/api", "hunter2"),
        ("https://h/x?access_token=hunter2&page=2", "hunter2"),
        ("https://h/x?api_key=hunter2", "hunter2"),
        ("https://h/x?sig=hunter2", "hunter2"),
    ],
)
def test_secrets_are_redacted_from_urls(url: str, secret: str) -> None:
    """User info and sensitive query values never survive redaction; the host stays for diagnosis."""
    for shown in (redact_url(url), redact(url)):
        assert secret not in shown and "user" not in shown.split("@")[0].split("//")[-1]
    assert "page=2" in redact_url("https://h/x?access_token=hunter2&page=2")


def test_a_sqlite_url_is_shown_unchanged() -> None:
    """A SQLite path has nothing to hide and keeps its slashes."""
    assert redact_url("sqlite:////tmp/state.db") == "sqlite:////tmp/state.db"


def test_deadlines_default_to_fifteen_seconds_and_are_configurable(tmp_path: Path) -> None:
    """Every service's call deadline is 15 s unless `deadline` says otherwise; Retry-After caps ≤ 60 s."""
    defaults = load_settings({})
    assert (defaults.schematic.deadline, defaults.hubspot.deadline, defaults.salesforce.deadline) == (15, 15, 15)
    assert defaults.schematic.retry_after_max <= 60 and defaults.hubspot.retry_after_max <= 60
    (tmp_path / "c.toml").write_text(
        "[schematic]\ndeadline = 3\nretry_after_max = 2.5\n[hubspot]\ndeadline = 4\n[salesforce]\ndeadline = 5\n"
    )
    tuned = load_settings({"CRMSYNC_CONFIG": str(tmp_path / "c.toml")})
    assert (tuned.schematic.deadline, tuned.hubspot.deadline, tuned.salesforce.deadline) == (3, 4, 5)
    assert tuned.schematic.retry_after_max == 2.5
    with pytest.raises(ConfigError, match="deadline"):
        (tmp_path / "c.toml").write_text("[hubspot]\ndeadline = -1\n")
        load_settings({"CRMSYNC_CONFIG": str(tmp_path / "c.toml")})


def test_the_hubspot_sdk_reads_fractional_and_capped_retry_after() -> None:
    """The configured urllib3 Retry reads `0.5` as half a second and caps `600` (and ignores junk)."""
    from crmsync.connectors.hubspot_retry import DeadlineRetry

    retry = DeadlineRetry(retry_after_cap=30.0, total=3)

    def after(value: str) -> float | None:
        return retry.get_retry_after(SimpleNamespace(headers={"Retry-After": value}))

    assert (after("0.5"), after("2"), after("600"), after("soon"), after("nan")) == (0.5, 2.0, 30.0, None, None)
    assert retry.new(total=2).retry_after_cap == 30.0


def test_salesforce_text_that_only_looks_like_a_datetime_is_kept() -> None:
    """`0000-00-00T00:00:00-0000` in a text field is kept as text (found by fuzzing: it raised)."""
    assert render("0000-00-00T00:00:00-0000") == "0000-00-00T00:00:00-0000"


def test_a_trial_of_twenty_nine_digits_is_located() -> None:
    """`expires_after_days: 10**28` is a located error (found by fuzzing: Decimal % 1 raised)."""
    text = MAPPING.format("5").replace("    default: 5\n", "    expires_after_days: 10000000000000000000000000000\n")
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text, "m.yaml")
    assert str(caught.value.problems[0]).startswith("m.yaml:10:") and "internal" not in str(caught.value)


def test_a_setting_of_four_hundred_digits_is_a_config_error(tmp_path: Path) -> None:
    """`deadline = 1000…0` (401 digits) is a one-line ConfigError, shortened (found by fuzzing: OverflowError)."""
    (tmp_path / "c.toml").write_text("[schematic]\ndeadline = 1" + "0" * 400 + "\n")
    with pytest.raises(ConfigError, match="deadline must be a number") as caught:
        load_settings({"CRMSYNC_CONFIG": str(tmp_path / "c.toml")})
    assert "0" * 60 not in str(caught.value) and len(str(caught.value).replace(str(tmp_path), "")) < 200
