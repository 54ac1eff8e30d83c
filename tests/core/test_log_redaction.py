"""Secrets never reach a log line: masked by key, scrubbed by value, URL passwords and bearer tokens
removed, in crmsync's events, in library (stdlib) records and in tracebacks alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from crmsync import logs
from crmsync.settings import secret_values

SECRET = "sch_live_5up3r5ecret"
TOKEN = "pat-na1-0ff1ce-7oken"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """JSON logs at debug level with two configured secrets; reset afterwards."""
    logs.configure_logging("json", "debug", secrets=[SECRET, TOKEN])
    yield capsys
    logs.reset_logging()


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    captured = capsys.readouterr()
    assert captured.out == ""  # logs never touch stdout
    return [json.loads(line) for line in captured.err.splitlines()]


def test_configured_secret_values_are_scrubbed_wherever_they_appear(json_logs: pytest.CaptureFixture[str]) -> None:
    """A secret in the event, a field, a nested field or a list is replaced by ***."""
    logs.get_logger("t").info(f"event {SECRET}", detail=f"x{TOKEN}y", nested={"a": [SECRET]})
    (line,) = lines(json_logs)
    text = json.dumps(line)
    assert SECRET not in text and TOKEN not in text
    assert line["detail"] == "x***y" and line["nested"] == {"a": ["***"]}


def test_secret_bearing_keys_are_masked_whatever_their_value(json_logs: pytest.CaptureFixture[str]) -> None:
    """Fields named like a token, key, password, authorization or secret are masked."""
    logs.get_logger("t").info(
        "e", api_key="k1", access_token="t1", password="p1", headers={"Authorization": "Basic abc"}, secret="s1"
    )
    (line,) = lines(json_logs)
    assert line["api_key"] == line["access_token"] == line["password"] == line["secret"] == "***"
    assert line["headers"] == {"Authorization": "***"}


def test_passwords_in_urls_query_secrets_and_bearer_tokens_are_removed(json_logs: pytest.CaptureFixture[str]) -> None:
    """postgresql://user:pw@host, ?api_key=… and `Bearer …` keep their shape without the secret."""
    logs.get_logger("t").info("e", url="postgresql://crm:hunter2@db/state?x=1&api_key=abc", auth="Bearer eyJ.x.y")
    (line,) = lines(json_logs)
    assert line["url"] == "postgresql://crm:***@db/state?x=1&api_key=***"
    assert line["auth"] == "Bearer ***"


def test_library_records_and_tracebacks_are_scrubbed_too(json_logs: pytest.CaptureFixture[str]) -> None:
    """A stdlib logger's message and an exception's text go through the same scrubbing."""
    logging.getLogger("urllib3.connectionpool").warning("Retrying https://u:pw@h/x?token=%s", TOKEN)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        logs.get_logger("t").exception("failed")
    first, second = lines(json_logs)
    assert first["event"] == "Retrying https://u:***@h/x?token=***" and first["logger"] == "urllib3.connectionpool"
    assert "boom ***" in str(second["exception"]) and SECRET not in str(second["exception"])


def test_secret_values_come_from_the_secret_variables_and_the_database_url() -> None:
    """Every known secret variable, any CRM/crmsync variable named like a secret, the database password."""
    env = {
        "SCHEMATIC_API_KEY": "a-key",
        "HUBSPOT_CLIENT_SECRET": "client-secret",
        "CRMSYNC_OPS_TOKEN": "ops-token",
        "SALESFORCE_NEW_SECRET_THING": "sf-new-secret",
        "CRMSYNC_TOKEN_CHECK": "1",  # too short to be told from ordinary text
        "CRMSYNC_DATABASE_URL": "postgresql+psycopg://crm:db-pass@db/state",
        "HUBSPOT_API_URL": "https://api.hubapi.com",
    }
    assert set(secret_values(env)) == {"a-key", "client-secret", "ops-token", "sf-new-secret", "db-pass"}


def test_console_format_is_plain_text_without_colours_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """On a pipe the console format has no escape codes, and still no secrets."""
    logs.configure_logging("console", "info", secrets=[SECRET])
    try:
        logs.get_logger("t").info("api.retry", service="schematic", detail=SECRET)
    finally:
        logs.reset_logging()
    err = capsys.readouterr().err
    assert "api.retry" in err and "service=schematic" in err and "\x1b[" not in err and SECRET not in err


def test_an_unknown_format_or_level_is_refused() -> None:
    """A typo in --log-format or --log-level is an error, not silently the default."""
    with pytest.raises(ValueError, match="console, json"):
        logs.configure_logging("xml")
    with pytest.raises(ValueError, match="debug, info"):
        logs.configure_logging("json", "loud")


def test_ordinary_words_are_never_masked(json_logs: pytest.CaptureFixture[str]) -> None:
    """'missing or wrong bearer token', 'token' and 'basic auth' stay readable; a real bearer credential goes."""
    logs.get_logger("t").warning(
        "missing or wrong bearer token", detail="the token expired; use basic auth", header="Bearer abc.DEF-123"
    )
    (line,) = lines(json_logs)
    assert line["event"] == "missing or wrong bearer token"
    assert line["detail"] == "the token expired; use basic auth"
    assert line["header"] == "Bearer ***"


def test_a_secret_set_to_a_plain_word_does_not_mask_that_word() -> None:
    """A variable holding the word 'token' (a placeholder) must not turn every 'token' in every line into ***."""
    from crmsync import redaction

    assert redaction.scrub("the token was refused", ["token", "s3cr3t-value"]) == "the token was refused"
    assert redaction.scrub("key s3cr3t-value", ["token", "s3cr3t-value"]) == "key ***"


def test_every_output_path_shares_one_redaction() -> None:
    """URLs, Salesforce login messages and log lines mask through crmsync.redaction, the one definition."""
    from crmsync import redaction
    from crmsync.store.engine import redact

    assert redact("postgresql://crm:pw@db/state?sslpassword=x") == redaction.redact_url(
        "postgresql://crm:pw@db/state?sslpassword=x"
    )
    assert redaction.scrub_line("INVALID_LOGIN:\n bad pw hunter2", ["hunter2"]) == "INVALID_LOGIN: bad pw ***"
