"""Parsing of raw CRM property strings into override values: numbers, booleans, dates.

Pure functions used by `translate.py` (and by the mapping and case readers, `case_results.py` and
settings, so each of these rules is written once); each parser raises `BadValue` with a message
a RevOps person can act on. CRMs hand every property over as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from crmsync.domain import MetricPeriod, MonthReset
from crmsync.errors import quote

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})
MAX_INT64 = 2**63 - 1
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")  # ASCII digits only, not Arabic-Indic or full-width


class BadValue(ValueError):
    """A property value that cannot become the override's value."""


def parse_decimal(raw: str) -> Decimal:
    """A plain decimal number from text (`" 50 "`, `"50.0"`, `"-3.5"`); BadValue otherwise."""
    text = raw.strip()
    if not NUMBER.fullmatch(text):
        raise BadValue(f"{quote(raw)} is not a number")
    return Decimal(text)


def parse_whole(raw: str, multiply: Decimal | None = None) -> int:
    """A whole, non-negative number (`"50"`, `"50.0"`, `" 50 "` are 50); BadValue otherwise."""
    number = parse_decimal(raw)
    if multiply is not None:
        number *= multiply
    if number != number.to_integral_value():
        raise BadValue(f"{quote(raw)} is not a whole number")
    if number < 0:
        raise BadValue(f"{quote(raw)} is negative; limits must be 0 or more")
    if number > MAX_INT64:
        raise BadValue(f"{quote(raw)} is too large")
    return int(number)


def parse_bool(raw: str) -> bool:
    """true/false/yes/no/1/0 in any case; BadValue otherwise."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(f"{quote(raw)} is not a yes/no value (use true/false, yes/no or 1/0)")


def parse_instant(raw: str, *, end_of_day: bool) -> datetime:
    """A date or datetime property as an aware UTC datetime.

    A plain date means the end of that day in UTC when `end_of_day` (expiries) and its
    start otherwise (start dates). Accepts ISO 8601 and epoch milliseconds (HubSpot).
    """
    text = raw.strip()
    if not text:
        raise BadValue("empty date")
    try:
        if text.isascii() and text.isdigit() and len(text) >= 11:  # epoch milliseconds, as HubSpot stores datetimes
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end_of_day:
                return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
            return datetime.combine(day, time(0, 0), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)  # 9999-12-31T23:59:59-23:59 is past the year 9999 in UTC
    except (ValueError, OverflowError, OSError) as exc:
        raise BadValue(f"{quote(raw)} is not a date (use YYYY-MM-DD or an ISO 8601 date-time)") from exc


def add_days(moment: datetime, days: int) -> datetime:
    """The end of the UTC day `days` days after `moment`'s (a trial counted from the close date):
    the same convention as a plain-date `expires_from`, whatever time of day the deal closed."""
    try:
        day = moment.astimezone(UTC).date() + timedelta(days=days)
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    except OverflowError as exc:
        raise BadValue(f"{days} days after {moment:%Y-%m-%d} is past the year 9999") from exc


def month_reset(period: MetricPeriod | None, reset: MonthReset | None) -> MonthReset | None:
    """The reset a window has: the one given, else the 1st for a `current_month` window.

    Schematic resets monthly windows on the 1st unless told otherwise: saying so makes a desired
    value compare equal to what Schematic stores."""
    if reset is None and period is MetricPeriod.CURRENT_MONTH:
        return MonthReset.FIRST_OF_MONTH
    return reset


def to_second(moment: datetime) -> datetime:
    """Whole seconds: Schematic stores expirations without fractions, so a desired expiry with
    milliseconds (HubSpot close dates have them) would never compare equal and be rewritten."""
    return moment.replace(microsecond=0)
