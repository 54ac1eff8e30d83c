"""The one retry policy's decisions, without a server: which answers retry, backoff and its cap,
capped and fractional Retry-After, attempts, and the deadline."""

from __future__ import annotations

import math

import pytest

from crmsync.retry_policy import (
    RetryPolicy,
    hubspot_policy,
    push_policy,
    retry_after_seconds,
    salesforce_policy,
    schematic_policy,
)


def test_retry_after_is_read_as_seconds_with_fractions() -> None:
    """'2' and '0.5' are seconds; a date, nan, inf or garbage is none; a negative wait is no wait."""
    assert retry_after_seconds("2") == 2.0 and retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds("-3") == 0.0
    for bad in (None, "nan", "inf", "soon", "Wed, 21 Oct 2026 07:28:00 GMT"):
        assert retry_after_seconds(bad) is None


def test_a_long_retry_after_is_capped_and_wins_over_backoff() -> None:
    """The server's ask is honoured up to retry_after_max; without one, the backoff applies."""
    policy = RetryPolicy(retry_after_max=30.0, backoff=0.2)
    assert policy.wait(1, 3600.0) == 30.0
    assert policy.wait(3, 0.25) == 0.25
    assert policy.wait(3, None) == pytest.approx(0.8)


def test_backoff_doubles_adds_jitter_and_stops_at_its_cap() -> None:
    """0.2, 0.4, 0.8 … plus up to `jitter`, never past backoff_max, even after very many failures."""
    policy = RetryPolicy(backoff=0.2, backoff_max=1.0, jitter=0.2)
    assert [policy.backoff_wait(n) for n in (1, 2, 3)] == pytest.approx([0.2, 0.4, 0.8])
    assert policy.backoff_wait(1, rand=1.0) == pytest.approx(0.4)
    assert policy.backoff_wait(4) == 1.0 and policy.backoff_wait(10_000) == 1.0


def test_attempts_and_the_deadline_end_the_retries() -> None:
    """The attempts include the first; a wait plus one more attempt must end within what is left."""
    policy = RetryPolicy(attempts=3)
    assert not policy.out_of_attempts(2) and policy.out_of_attempts(3)
    assert policy.fits(1.0, left=5.0, attempt_time=4.0)
    assert not policy.fits(1.0, left=5.0, attempt_time=4.5)


def test_which_answers_are_retried() -> None:
    """429 and the passing 5xx are; a 4xx is not; no answer at all (a connection error) is."""
    policy = RetryPolicy()
    assert all(policy.retries_status(s) for s in (429, 500, 502, 503, 504, None))
    assert not any(policy.retries_status(s) for s in (400, 401, 404, 409, 501))
    assert schematic_policy(5, 15.0, 30.0).retries_status(501)  # Schematic retries every 5xx of a read


def test_each_system_keeps_its_numbers() -> None:
    """The constructors carry what each transport did before the policy was shared."""
    schematic = schematic_policy(attempts=5, deadline=15.0, retry_after_max=60.0, max_wait=30.0)
    assert (schematic.attempts, schematic.retry_after_max, schematic.backoff, schematic.jitter) == (5, 30.0, 0.2, 0.2)
    hubspot = hubspot_policy(retries=5, deadline=15.0, retry_after_max=30.0, backoff=1.0)
    assert (hubspot.attempts, hubspot.backoff, hubspot.backoff_max) == (6, 1.0, 120.0)
    salesforce = salesforce_policy(retries=2, deadline=15.0, retry_wait=0.5)
    assert (salesforce.attempts, salesforce.backoff_wait(6)) == (3, 10.0)
    push = push_policy(attempts=10, backoff=0.1)
    assert push.deadline == math.inf and push.backoff_wait(10) == 5.0
