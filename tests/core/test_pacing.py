"""The token bucket's arithmetic (`pacing.reserve`) and the in-process budget, on a fake clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crmsync.pacing import LocalBudget, Unlimited, budget, reserve

requests = st.lists(
    st.tuples(st.floats(min_value=0, max_value=0.5), st.integers(min_value=1, max_value=4)), min_size=1, max_size=60
)


def releases(steps: list[tuple[float, int]], rate: float, burst: float) -> list[tuple[float, float, int]]:
    """(asked at, usable from, tokens) for requests arriving `dt` apart."""
    bucket, now, out = None, 0.0, []
    for dt, n in steps:
        now += dt
        bucket, wait = reserve(bucket, now, n, rate=rate, burst=burst)
        out.append((now, now + wait, n))
    return out


@given(requests, st.sampled_from([1.0, 4.0, 20.0]), st.sampled_from([1.0, 2.0, 5.0]))
def test_tokens_used_by_any_instant_never_exceed_burst_plus_rate_times_elapsed(
    steps: list[tuple[float, int]], rate: float, burst: float
) -> None:
    """By any instant t, at most burst + rate * t tokens have become usable."""
    done = releases(steps, rate, burst)
    for _, at, _ in done:
        used = sum(n for _, usable, n in done if usable <= at)
        assert used <= burst + rate * at + 1e-6


@given(requests)
def test_callers_are_served_in_the_order_they_asked(steps: list[tuple[float, int]]) -> None:
    """A later reservation never becomes usable before an earlier one."""
    done = releases(steps, rate=5.0, burst=2.0)
    usable = [u for _, u, _ in done]
    assert usable == sorted(usable)


def test_a_full_bucket_serves_a_burst_without_waiting() -> None:
    """A new bucket holds `burst` tokens: that many are taken at once, the next one waits 1/rate."""
    bucket, first = reserve(None, 0.0, 3, rate=10.0, burst=3.0)
    _, second = reserve(bucket, 0.0, 1, rate=10.0, burst=3.0)
    assert first == 0.0 and abs(second - 0.1) < 1e-9


def test_an_idle_bucket_refills_only_up_to_its_burst() -> None:
    """An hour idle does not buy an hour of calls: the bucket is capped at `burst`."""
    bucket, _ = reserve(None, 0.0, 1, rate=10.0, burst=2.0)
    bucket, wait = reserve(bucket, 3600.0, 3, rate=10.0, burst=2.0)
    assert bucket.tokens == -1.0 and abs(wait - 0.1) < 1e-9


class FakeTime:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_local_budget_spaces_calls_at_its_rate() -> None:
    """Ten takes at 5/s with a burst of 1 wait 9 * 0.2 s in all."""
    t = FakeTime()
    paced = LocalBudget("test", 5.0, clock=t.clock, sleep=t.sleep)
    for _ in range(10):
        paced.take()
    assert len(t.slept) == 9 and abs(t.now - 1.8) < 1e-9


def test_a_rate_of_zero_is_unlimited() -> None:
    """The sandbox and benchmarks set 0: no budget, no waiting."""
    assert isinstance(budget("x", 0.0), Unlimited)
    assert isinstance(budget("x", 4.0), LocalBudget)
