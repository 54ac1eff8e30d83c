"""The HubSpot emulator's rate-limit headers: every authenticated answer says what is left of the
portal's daily budget and its 10 s window, consistently, and a spent daily budget answers 429 DAILY."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from crmsync.sandbox import HubSpotState
from crmsync.sandbox.serve import ServedApp

DEALS = "/crm/v3/objects/deals"


def calls(served: ServedApp, token: str, n: int, path: str = DEALS) -> list[httpx.Response]:
    """`n` GETs of `path` with `token`."""
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as http:
        return [http.get(path, params={"limit": 1}) for _ in range(n)]


def limits(answer: httpx.Response) -> dict[str, int]:
    """The X-HubSpot-RateLimit-* headers of an answer, by their last words."""
    prefix = "x-hubspot-ratelimit-"
    return {k[len(prefix) :]: int(v) for k, v in answer.headers.items() if k.lower().startswith(prefix)}


def test_each_answer_carries_the_five_rate_limit_headers_counting_down(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """Daily, Daily-Remaining, Interval-Milliseconds, Max and Remaining on every answer; both remainders
    fall by one per call."""
    state, served = fresh
    first, second, third = (limits(a) for a in calls(served, state.access_token, 3))
    assert first == {"daily": 250_000, "daily-remaining": 249_999, "interval-milliseconds": 10_000,
                     "max": 100, "remaining": 99}  # fmt: skip
    assert (second["daily-remaining"], third["daily-remaining"]) == (249_998, 249_997)
    assert (second["remaining"], third["remaining"]) == (98, 97)


def test_a_rejected_token_spends_nothing(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """A 401 carries no rate-limit headers and leaves the daily budget whole."""
    state, served = fresh
    (rejected,) = calls(served, "wrong", 1)
    assert rejected.status_code == 401 and not limits(rejected)
    (answer,) = calls(served, state.access_token, 1)
    assert limits(answer)["daily-remaining"] == 249_999


def test_a_spent_daily_budget_answers_429_daily_until_the_next_day(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """With 2 calls left: two answers, then 429 RATE_LIMIT policy DAILY (no Retry-After); the next UTC day
    the budget is whole again."""
    state, served = fresh
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    state.clock = lambda: now
    state.set_api_usage(daily_limit=1_000, used_today=998)
    answers = calls(served, state.access_token, 3)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [limits(a)["daily-remaining"] for a in answers] == [1, 0, 0]
    assert answers[2].json()["policyName"] == "DAILY" and "retry-after" not in answers[2].headers
    state.clock = lambda: now + timedelta(days=1)
    (answer,) = calls(served, state.access_token, 1)
    assert answer.status_code == 200 and limits(answer)["daily-remaining"] == 999


def test_published_limits_refuse_the_call_past_the_10s_window_but_not_searches(
    fresh: tuple[HubSpotState, ServedApp],
) -> None:
    """With HubSpot's published limits on (3 calls per 10 s here), the fourth call in the window answers
    429 RATE_LIMIT policy TEN_SECONDLY_ROLLING without Retry-After; searches are exempt from that window
    and limited per second instead (429 SECONDLY past it)."""
    state, served = fresh
    state.publish_limits(searches_per_second=1.0, calls_per_10s=3)
    answers = calls(served, state.access_token, 4)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3].json()
    assert (refused["errorType"], refused["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert "retry-after" not in answers[3].headers
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {state.access_token}"}) as http:
        searches = [http.post(f"{DEALS}/search", json={"limit": 1}) for _ in range(2)]
    assert [s.status_code for s in searches] == [200, 429]  # not the window's: the per-second limit's
    assert searches[1].json()["policyName"] == "SECONDLY" and "retry-after" not in searches[1].headers
