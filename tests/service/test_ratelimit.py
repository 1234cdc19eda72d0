"""Token buckets: each key's burst follows its own rate; the service-wide limit is the default."""

from __future__ import annotations

import pytest

from service import ratelimit
from service.ratelimit import Limit, RateLimiter, default_burst


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(ratelimit.time, "monotonic", c)
    return c


def _allowed(limiter: RateLimiter, key: str, n: int, rate: float | None = None, burst: int | None = None) -> int:
    return sum(limiter.acquire(key, rate, burst) == 0 for _ in range(n))


def test_default_burst_is_two_seconds_of_the_rate_at_least_one() -> None:
    assert [default_burst(r) for r in (0.01, 0.5, 0.6, 2, 200)] == [1, 1, 2, 4, 400]


def test_limit_for_a_key() -> None:
    limiter = RateLimiter(200, 400)
    assert limiter.limit_for() == Limit(200, 400)
    assert limiter.limit_for(2) == Limit(2, 4)
    assert limiter.limit_for(2, 1) == Limit(2, 1)
    assert limiter.limit_for(None, 7) == Limit(200, 7)


def test_a_key_with_its_own_rate_gets_its_own_burst_then_refills_at_its_rate(clock: Clock) -> None:
    limiter = RateLimiter(200, 400)
    assert _allowed(limiter, "slow", 50, rate=2) == 4
    wait = limiter.acquire("slow", 2)
    assert wait == pytest.approx(0.5)
    clock.now += 0.5
    assert _allowed(limiter, "slow", 5, rate=2) == 1
    assert limiter.limit_of("slow") == Limit(2, 4)


def test_keys_do_not_share_buckets(clock: Clock) -> None:
    limiter = RateLimiter(200, 400)
    assert _allowed(limiter, "tight", 10, rate=2, burst=1) == 1
    assert _allowed(limiter, "other", 50) == 50
    assert limiter.limit_of("never-seen") == Limit(200, 400)


def test_the_service_wide_limit_is_unchanged(clock: Clock) -> None:
    limiter = RateLimiter(1, 3)
    assert _allowed(limiter, "k", 10) == 3
    clock.now += 1
    assert _allowed(limiter, "k", 10) == 1


def test_bucket_table_drops_refilled_buckets_and_keeps_drained_ones(clock: Clock) -> None:
    # The login page keys buckets by client and submitted name: an attacker varying names must not grow memory.
    limiter = RateLimiter(1, 2, max_buckets=100)
    assert _allowed(limiter, "victim", 5) == 2  # drained
    for i in range(99):
        limiter.acquire(f"name-{i}")
    clock.now += 1.5  # the others have refilled (1 + 1.5 >= 2 tokens); the victim has 1.5
    limiter.acquire("one-more")  # at the cap: the sweep drops the 99 refilled buckets
    assert len(limiter) == 2
    assert _allowed(limiter, "victim", 2) == 1  # its bucket was kept: 1.5 tokens, not a fresh burst of 2


def test_busy_buckets_over_the_cap_evict_the_oldest(clock: Clock) -> None:
    limiter = RateLimiter(0.001, 1, max_buckets=50)
    for i in range(500):  # none refills: every bucket stays busy
        assert limiter.acquire(f"name-{i}") == 0
    assert len(limiter) <= 50
    assert limiter.acquire("name-499") > 0  # the newest are kept, still limited
