"""Inputs that once escaped as tracebacks: each now becomes a reported problem for one deal,
a located mapping error, or a one-line configuration error."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmsync.connectors.base import ReadResult
from crmsync.domain import Combine, CompanyId, CompanyKey, Contribution, FeatureId, RuleRef, Source
from crmsync.errors import ConfigError, MappingError
from crmsync.mapping.loader import load_mapping_text
from crmsync.mapping.rules import Mappings
from crmsync.mapping.translate import translate
from crmsync.reconcile.combine import combine
from crmsync.service.reading import uncounted_warnings
from crmsync.settings import load_settings
from tests.core.builders import NOW, deal, mapping, numeric, rule

FEATURES = {"seats": FeatureId("feat_seats")}


def test_latest_combines_deals_without_a_close_date() -> None:
    """`combine: latest` with a deal that has no close date picks the dated one, without a crash."""
    key = CompanyKey("hubspot_company_id", "5001")
    undated = replace(deal("1"), close_date=None)
    dated = deal("2", close=datetime(2026, 5, 1, tzinfo=UTC))
    rule_ref = RuleRef("m.yaml", 1, "seats")
    contributions = [
        Contribution(key, FeatureId("feat_seats"), numeric(5), Combine.LATEST, undated, rule_ref),
        Contribution(key, FeatureId("feat_seats"), numeric(9), Combine.LATEST, dated, rule_ref),
    ]
    desired, _ = combine(contributions, {key: CompanyId("comp_a")})
    assert [d.value.value_numeric for d in desired.values()] == [9]


@pytest.mark.parametrize("raw", ["99999999999999999", "99999999999999999999999"], ids=["year-past-9999", "huge"])
def test_an_absurd_epoch_date_is_a_problem_of_that_deal(raw: str) -> None:
    """An epoch-milliseconds date past what a datetime holds is reported for that deal only."""
    result = translate(
        [deal("1", seats_purchased="5", end=raw), deal("2", seats_purchased="5")],
        [mapping(rule(expires_from="end"))],
        FEATURES,
        NOW,
    )
    assert [p.deal_id for p in result.problems] == ["1"] and [c.deal.id for c in result.contributions] == ["2"]


def test_a_trial_longer_than_a_century_is_a_located_mapping_error() -> None:
    """`expires_after_days: 10000000` fails validation at its line instead of at plan time."""
    text = (
        "source: hubspot\ndeals:\n  stages: [closedwon]\ncompany:\n  key: k\noverrides:\n"
        "  - {feature: seats, type: numeric, value: 1, expires_after_days: 10000000}\n"
    )
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text, "m.yaml")
    assert str(caught.value.problems[0]).startswith("m.yaml:7:")


def test_a_config_section_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    """`hubspot = 5` in the TOML file is a one-line configuration error."""
    (tmp_path / "c.toml").write_text("hubspot = 5\n")
    with pytest.raises(ConfigError, match=r"\[hubspot\] must be a table"):
        load_settings({"CRMSYNC_CONFIG": str(tmp_path / "c.toml")})


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("[guards]\nmax_count = inf", "must be a number ≥ 0, not inf"),
        ("[guards]\nmax_percent = nan", "must be a number ≥ 0, not nan"),
        ("[hubspot]\nsearches_per_second = -inf", "must be a number ≥ 0, not -inf"),
        ("[guards]\nmin_affected = 2.5", "min_affected must be a whole number ≥ 0, not 2.5"),
        ("[schematic]\nattempts = 1.5", "attempts must be a whole number ≥ 0, not 1.5"),
    ],
    ids=["inf", "nan", "minus-inf", "fractional-min-affected", "fractional-attempts"],
)
def test_a_setting_that_is_not_a_usable_number_is_a_config_error(tmp_path: Path, line: str, shown: str) -> None:
    """inf, nan and a fraction where a count is meant are refused by name, not crashed on or truncated."""
    (tmp_path / "c.toml").write_text(line + "\n")
    with pytest.raises(ConfigError, match=shown):
        load_settings({"CRMSYNC_CONFIG": str(tmp_path / "c.toml")})


def test_whole_settings_written_as_floats_are_read_as_ints(tmp_path: Path) -> None:
    """`min_affected = 3.0` is 3; a whole count keeps its int type."""
    (tmp_path / "c.toml").write_text("[guards]\nmin_affected = 3.0\nmax_count = 7\n")
    guards = load_settings({"CRMSYNC_CONFIG": str(tmp_path / "c.toml")}).guards
    assert (guards.min_affected, guards.max_count) == (3, 7)
    assert isinstance(guards.min_affected, int)


def test_an_unreadable_config_file_is_a_config_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A config file crmsync may not read is a one-line configuration error naming the path."""
    path = tmp_path / "c.toml"
    path.write_text("[guards]\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ConfigError, match=rf"cannot read {re.escape(str(path))} \(Permission denied\)"):
        load_settings({"CRMSYNC_CONFIG": str(path)})


def test_a_bad_crmsync_now_is_a_config_error() -> None:
    """CRMSYNC_NOW must be an ISO date or date-time."""
    with pytest.raises(ConfigError, match="CRMSYNC_NOW"):
        load_settings({"CRMSYNC_NOW": "tomorrow"})
    assert load_settings({"CRMSYNC_NOW": "2026-11-21"}).now == datetime(2026, 11, 21, tzinfo=UTC)


def test_deals_read_but_none_counted_is_a_warning() -> None:
    """A CRM whose deals were read but none is in the mapping's stages gets a warning naming their stages."""
    reads = [ReadResult(Source.HUBSPOT, (deal("1", stage="won"), deal("2", stage="won")))]
    warnings = uncounted_warnings(reads, Mappings((mapping(rule(), stages=("closedwon",)),)))
    assert len(warnings) == 1 and "2 deal(s) read but none" in str(warnings[0]) and "won" in str(warnings[0])
    assert uncounted_warnings(reads, Mappings((mapping(rule(), stages=("WON",)),))) == ()
