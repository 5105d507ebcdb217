"""The call budget and the booking lock on real Redis, with several "workers" at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis

from gateway.queue import create_redis
from gateway.ratelimit import BookingLock, BudgetKey, RateBudget
from gateway.settings import Settings

KEY = BudgetKey("isv_test", 4242)


def at_most_per_window(slots: list[int], limit: int, window_ms: int) -> bool:
    """Whether no `window_ms` window (as Dinero slides it) holds more than `limit` slots."""
    slots = sorted(slots)
    return all(slots[i + limit] - slots[i] >= window_ms for i in range(len(slots) - limit))


async def slots_in_redis(redis: ArqRedis, key: BudgetKey) -> list[int]:
    entries = await redis.zrange(f"gateway:rate:{key}", 0, -1, withscores=True)
    return [int(score) for _, score in entries]


@pytest.fixture
async def other_worker(settings: Settings, redis: ArqRedis) -> AsyncIterator[ArqRedis]:
    """A second process's Redis connection (the `redis` fixture empties the database)."""
    client = create_redis(settings.redis_url)
    yield client
    await client.aclose()


async def test_grants_up_to_the_limit_then_says_how_long_to_wait(redis: ArqRedis) -> None:
    budget = RateBudget(redis, limit=5, window=30)
    assert [await budget.acquire(KEY) for _ in range(5)] == [0.0] * 5
    wait = await budget.acquire(KEY)
    assert 29 < wait <= 30
    # A refusal takes nothing: still exactly five slots in the log.
    assert len(await slots_in_redis(redis, KEY)) == 5
    # Other organisations and other client ids have budgets of their own.
    assert await budget.acquire(BudgetKey("isv_test", 4343)) == 0.0
    assert await budget.acquire(BudgetKey("isv_other", 4242)) == 0.0


async def test_two_workers_together_never_exceed_the_budget(
    redis: ArqRedis, other_worker: ArqRedis
) -> None:
    budgets = [
        RateBudget(redis, limit=20, window=30),
        RateBudget(other_worker, limit=20, window=30),
    ]

    async def hammer(budget: RateBudget) -> int:
        granted = 0
        for _ in range(40):
            granted += await budget.acquire(KEY) == 0.0
        return granted

    results = await asyncio.gather(*(hammer(b) for b in budgets for _ in range(5)))
    assert sum(results) == 20
    assert sum(results[:5]) > 0 and sum(results[5:]) > 0  # both processes got some


async def test_reserved_slots_keep_every_window_within_the_limit(
    redis: ArqRedis, other_worker: ArqRedis
) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:  # instead of sleeping until the slot
        waits.append(seconds)

    budgets = [
        RateBudget(client, limit=4, window=1.0, sleep=record) for client in (redis, other_worker)
    ]
    results = await asyncio.gather(
        *(random.choice(budgets).acquire(KEY, max_wait=2.5) for _ in range(30))
    )
    granted = results.count(0.0)
    # Four now, four a second later, four two seconds later: then the wait exceeds 2.5 s.
    assert granted == 12
    assert sorted(round(w) for w in waits) == [1] * 4 + [2] * 4
    assert all(wait > 2.0 for wait in results if wait)
    assert at_most_per_window(await slots_in_redis(redis, KEY), 4, 1000)


async def test_random_traffic_from_two_workers_keeps_the_sliding_window(
    redis: ArqRedis, other_worker: ArqRedis
) -> None:
    async def no_sleep(seconds: float) -> None:
        pass

    budgets = [
        RateBudget(client, limit=7, window=0.5, sleep=no_sleep) for client in (redis, other_worker)
    ]
    for _ in range(6):
        await asyncio.gather(
            *(b.acquire(KEY, max_wait=random.choice([0, 0.3, 1.0])) for b in budgets * 8)
        )
    slots = await slots_in_redis(redis, KEY)
    assert len(slots) >= 7
    assert at_most_per_window(slots, 7, 500)


async def test_a_pause_after_a_429_stops_every_worker(
    redis: ArqRedis, other_worker: ArqRedis
) -> None:
    first, second = RateBudget(redis), RateBudget(other_worker)
    await first.pause(KEY, 20)
    assert 19 < await second.acquire(KEY) <= 20
    assert await second.free_slots(KEY, within=5) == 0
    await first.pause(KEY, 5)  # a shorter pause does not cut the longer one short
    assert await second.acquire(KEY) > 19


async def test_free_slots_counts_what_the_window_still_holds(redis: ArqRedis) -> None:
    budget = RateBudget(redis, limit=5, window=30)
    assert await budget.free_slots(KEY, within=2) == 5
    for _ in range(3):
        await budget.acquire(KEY)
    assert await budget.free_slots(KEY, within=2) == 2
    assert await budget.free_slots(KEY, within=31) == 5  # by then they have left the window


def test_a_budget_above_dineros_limit_is_refused(redis: ArqRedis) -> None:
    with pytest.raises(ValueError, match="1-100"):
        RateBudget(redis, limit=101)


def test_a_budget_may_stay_under_a_raised_sandbox_limit_instead(redis: ArqRedis) -> None:
    assert RateBudget(redis, limit=950, dinero_limit=1000).limit == 950
    with pytest.raises(ValueError, match="1-1000"):
        RateBudget(redis, limit=1001, dinero_limit=1000)


async def test_the_booking_lock_lets_one_holder_in_at_a_time(
    redis: ArqRedis, other_worker: ArqRedis
) -> None:
    locks = [BookingLock(redis), BookingLock(other_worker)]
    inside = 0
    most_inside = 0
    order: list[int] = []

    async def book(n: int) -> None:
        nonlocal inside, most_inside
        lock = locks[n % 2]
        token = await lock.acquire(1001, wait=10)
        assert token is not None
        try:
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0.005)
            order.append(n)
            inside -= 1
        finally:
            assert await lock.release(1001, token)

    await asyncio.gather(*(book(n) for n in range(12)))
    assert most_inside == 1
    assert sorted(order) == list(range(12))


async def test_only_the_holder_releases_the_booking_lock(redis: ArqRedis) -> None:
    lock = BookingLock(redis)
    token = await lock.acquire(1001)
    assert token is not None
    assert await lock.acquire(1001) is None  # held
    assert await lock.acquire(1002) is not None  # another organisation books freely
    assert not await lock.release(1001, "not-the-token")
    assert await lock.acquire(1001) is None
    assert await lock.release(1001, token)
    assert await lock.acquire(1001) is not None


async def test_an_expired_booking_lock_is_not_released_by_its_old_holder(
    redis: ArqRedis,
) -> None:
    short = BookingLock(redis, ttl=0.05)
    old = await short.acquire(1001)
    assert old is not None
    new = await short.acquire(1001, wait=1)  # waits until the dead holder's lock expires
    assert new is not None
    assert not await short.release(1001, old)
    assert await short.release(1001, new)
