"""The emulated org's schema: standard fields of Opportunity, Account and RecordType, Ids, values.

`salesforce_state.py` stores rows through `coerce`, which turns seed JSON or Python values into
the typed values `soql_eval.py` compares (str, bool, float, date, aware UTC datetime to the
millisecond); `salesforce_id` makes 18-character Ids with Salesforce's checksum suffix.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from crmsync.sandbox.common import parse_utc
from crmsync.sandbox.soql_eval import FieldType, Relationship

F = FieldType
_OPPORTUNITY: dict[str, FieldType] = {
    "Id": F.ID,
    "Name": F.STRING,
    "StageName": F.PICKLIST,
    "IsWon": F.BOOLEAN,
    "IsClosed": F.BOOLEAN,
    "IsDeleted": F.BOOLEAN,
    "CloseDate": F.DATE,
    "AccountId": F.REFERENCE,
    "RecordTypeId": F.REFERENCE,
    "Amount": F.CURRENCY,
    "SystemModstamp": F.DATETIME,
    "LastModifiedDate": F.DATETIME,
    "CreatedDate": F.DATETIME,
}
_ACCOUNT: dict[str, FieldType] = {"Id": F.ID, "Name": F.STRING, "IsDeleted": F.BOOLEAN, "SystemModstamp": F.DATETIME}
_RECORD_TYPE: dict[str, FieldType] = {
    "Id": F.ID,
    "Name": F.STRING,
    "DeveloperName": F.STRING,
    "SobjectType": F.PICKLIST,
    "IsActive": F.BOOLEAN,
}
RELATIONSHIPS = {
    "Account": Relationship("Account", "Account", "AccountId"),
    "RecordType": Relationship("RecordType", "RecordType", "RecordTypeId"),
}

STANDARD_FIELDS = {"Opportunity": _OPPORTUNITY, "Account": _ACCOUNT, "RecordType": _RECORD_TYPE}
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(prefix: str, number: int) -> str:
    """An 18-character Id: prefix, zero-padded number, and Salesforce's case-checksum suffix."""
    base = f"{prefix}{number:0{15 - len(prefix)}d}"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << j for j, ch in enumerate(base[chunk * 5 : chunk * 5 + 5]) if ch.isupper())
        suffix += _ID_ALPHABET[bits]
    return base + suffix


def infer_type(value: Any) -> FieldType:
    """The type an undeclared custom field takes from its first value."""
    if isinstance(value, bool):
        return F.BOOLEAN
    if isinstance(value, int | float):
        return F.DOUBLE
    if isinstance(value, datetime) or (isinstance(value, str) and _DATETIME_TEXT.match(value)):
        return F.DATETIME
    if isinstance(value, date) or (isinstance(value, str) and _DATE_TEXT.fullmatch(value)):
        return F.DATE
    return F.STRING


def coerce(name: str, ftype: FieldType, value: Any) -> Any:
    """A Python or JSON value as the emulator stores it for a field of `ftype`."""
    if value is None:
        return None
    if ftype is F.BOOLEAN and isinstance(value, bool):
        return value
    if ftype in (F.DOUBLE, F.CURRENCY) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if ftype is F.DATE and isinstance(value, date) and not isinstance(value, datetime):
        return value
    if ftype is F.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if ftype is F.DATETIME and isinstance(value, str | datetime):
        moment = parse_utc(value)  # Z, offsets and fractions; naive means UTC
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if ftype in (F.ID, F.REFERENCE, F.STRING, F.PICKLIST) and isinstance(value, str):
        return value
    raise ValueError(f"field {name} ({ftype}) cannot hold {value!r}")
