"""Login throttling on the run's Redis, with a clock the tests move (no sleeping)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from arq.connections import ArqRedis

from gateway.queue import create_redis
from web.throttle import Limit, LoginThrottle, address_key

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
EMAIL = Limit(failures=3, window=timedelta(minutes=10))
ADDRESS = Limit(failures=5, window=timedelta(minutes=10))


@pytest.fixture
def throttle(redis: ArqRedis) -> LoginThrottle:
    return LoginThrottle(redis, per_email=EMAIL, per_address=ADDRESS, prefix="test:login")


async def fail(
    throttle: LoginThrottle, email: str, at: datetime, address: str = "192.0.2.1"
) -> None:
    await throttle.failed(address=address, email=email, now=at)


async def test_an_email_is_blocked_after_its_limit_until_the_oldest_failure_leaves(
    throttle: LoginThrottle,
) -> None:
    for minute in range(3):
        assert await throttle.blocked(address="192.0.2.1", email="a@x.dk", now=T0) is None
        await fail(throttle, "a@x.dk", T0 + timedelta(minutes=minute))
    now = T0 + timedelta(minutes=4)
    blocked = await throttle.blocked(address="198.51.100.7", email="a@x.dk", now=now)
    assert blocked is not None and blocked.by == "email"
    # The first failure (at T0) leaves the window at T0 + 10 min: six minutes from now.
    assert blocked.retry_after == timedelta(minutes=6)
    assert blocked.minutes == 6 and blocked.seconds == 360
    # Sliding, not fixed: one second before that it is still blocked, at it it is not.
    assert await throttle.blocked(
        address="192.0.2.1", email="a@x.dk", now=T0 + timedelta(minutes=10) - timedelta(seconds=1)
    )
    assert (
        await throttle.blocked(address="192.0.2.1", email="a@x.dk", now=T0 + timedelta(minutes=10))
        is None
    )


async def test_blocked_attempts_do_not_extend_the_block(throttle: LoginThrottle) -> None:
    for _ in range(3):
        await fail(throttle, "a@x.dk", T0)
    for second in range(50):  # hammering while blocked records nothing
        now = T0 + timedelta(seconds=second)
        assert await throttle.blocked(address="192.0.2.1", email="a@x.dk", now=now)
    assert (
        await throttle.blocked(address="192.0.2.1", email="a@x.dk", now=T0 + EMAIL.window) is None
    )


async def test_an_address_trying_many_emails_is_blocked(throttle: LoginThrottle) -> None:
    for n in range(5):
        await fail(throttle, f"user{n}@x.dk", T0)
    blocked = await throttle.blocked(address="192.0.2.1", email="fresh@x.dk", now=T0)
    assert blocked is not None and blocked.by == "address"
    assert await throttle.blocked(address="192.0.2.2", email="fresh@x.dk", now=T0) is None


async def test_ipv6_hosts_are_counted_per_64(throttle: LoginThrottle) -> None:
    for n in range(5):
        await fail(throttle, f"user{n}@x.dk", T0, address=f"2001:db8:1:2::{n + 1}")
    assert await throttle.blocked(address="2001:db8:1:2:ffff::1", email="z@x.dk", now=T0)
    assert await throttle.blocked(address="2001:db8:1:3::1", email="z@x.dk", now=T0) is None


def test_address_keys() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("2001:db8::1") == address_key("2001:db8::2") == "2001:db8::/64"
    assert address_key(None) == "unknown"
    assert address_key("testclient") == "testclient"


async def test_success_forgets_the_email_but_not_the_address(throttle: LoginThrottle) -> None:
    for n in range(3):
        await fail(throttle, "a@x.dk", T0)
        await fail(throttle, f"other{n}@x.dk", T0)
    await throttle.succeeded(email="A@X.dk ")
    blocked = await throttle.blocked(address="192.0.2.1", email="a@x.dk", now=T0)
    assert blocked is not None and blocked.by == "address"  # 6 failures from it still count
    assert await throttle.blocked(address="192.0.2.9", email="a@x.dk", now=T0) is None


async def test_no_email_address_appears_in_redis(throttle: LoginThrottle, redis: ArqRedis) -> None:
    await fail(throttle, "karen@sokkeriet.dk", T0)
    keys = [k.decode() for k in await redis.keys("test:login:*")]
    assert len(keys) == 2 and not any("karen" in k or "sokkeriet" in k for k in keys)
    # Keys expire on their own after the window.
    for key in keys:
        assert 0 < await redis.pttl(key) <= EMAIL.window.total_seconds() * 1000


async def test_fails_open_and_says_so_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    client = create_redis("redis://127.0.0.1:1/0")
    try:
        down = LoginThrottle(client, per_email=EMAIL, per_address=ADDRESS)
        with caplog.at_level(logging.WARNING, logger="web.throttle"):
            for _ in range(5):
                await down.failed(address="192.0.2.1", email="a@x.dk", now=T0)
            assert await down.blocked(address="192.0.2.1", email="a@x.dk", now=T0) is None
            await down.succeeded(email="a@x.dk")
    finally:
        await client.aclose()
    messages = [r.getMessage() for r in caplog.records if r.name == "web.throttle"]
    assert any("unavailable, not throttling" in m for m in messages)
    assert any("could not record" in m for m in messages)
    assert not any("a@x.dk" in m for m in messages)
