"""Dinero's call budget and the per-organisation booking lock, shared through Redis by every
worker and web process.

Dinero allows 100 calls a minute per (client id, organisation) and answers 429 above that,
and it watches partners that bounce off the limit. So we never ask it to say no: every call
takes a slot from `RateBudget` first, and the budget is set below the limit.

The budget is a sliding-window log, not a token bucket or GCRA: Dinero's own limit is a
sliding window (the sandbox's is exactly that), and a log lets a burst of up to `limit`
calls through at once, which a smooth GCRA would spread over the minute. Two margins keep us
clear of Dinero's count, which is of arrivals, not of our grants: `limit` 95 leaves five
calls for whatever does not go through the budget, and the window is two seconds longer than
Dinero's, so calls granted at once but arriving spread out (connection set-up, a slow
network) still fall inside our window wherever they fall inside Dinero's. (Should Dinero
count per calendar minute instead, a bound on every 62-second window bounds those too.)

Slots are handed out in time order, and a caller may reserve the next free one when it is
close (`max_wait`): the script records the reservation, the caller sleeps until it, then
calls. Reservations never reorder, so "at most `limit` in any window" holds for the future
slots as well as the past ones. Time is Redis's (`TIME` inside the script), so workers with
skewed clocks still share one timeline.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis

from gateway.metrics import RATE_BUDGET_WAIT_SECONDS, RATE_BUDGET_WAITS, Metrics

DINERO_LIMIT: Final = 100
BUDGET: Final = 95
WINDOW: Final = 62.0  # Dinero's 60 s, plus two seconds for calls arriving out of step
BOOKING_LOCK_TTL: Final = 45.0  # longer than a call's read timeout (30 s)

_RATE_PREFIX: Final = "gateway:rate:"
_PAUSE_PREFIX: Final = "gateway:rate-pause:"
_BOOKING_PREFIX: Final = "gateway:booking:"

# KEYS: the log (sorted set of slot times, ms), the pause key.
# ARGV: limit, window ms, longest acceptable wait ms, a unique member.
# Returns {granted (0|1), wait ms}: granted with the wait until the reserved slot, or not
# granted with the wait until a slot frees.
_ACQUIRE: Final = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit, window, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local slot = now
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then slot = now + paused end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count > 0 then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  slot = math.max(slot, tonumber(last[2]))
end
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  slot = math.max(slot, tonumber(oldest[2]) + window)
end
local wait = slot - now
if wait > max_wait then return {0, wait} end
redis.call('ZADD', KEYS[1], slot, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window + wait + 1000)
return {1, wait}
"""

# KEYS: the log, the pause key. ARGV: limit, window ms, horizon ms.
# Returns how many slots are free at some moment up to `horizon` from now.
_FREE: Final = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit, window, horizon = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('PTTL', KEYS[2]) > horizon then return 0 end
local busy = redis.call('ZCOUNT', KEYS[1], '(' .. (now + horizon - window), '+inf')
return math.max(0, limit - busy)
"""

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class BudgetKey:
    """Whose budget: Dinero counts per client id and organisation."""

    client_id: str
    organization_id: int

    def __str__(self) -> str:
        return f"{self.client_id}:{self.organization_id}"


class RateBudget:
    def __init__(
        self,
        redis: Redis,
        *,
        limit: int = BUDGET,
        window: float = WINDOW,
        dinero_limit: int = DINERO_LIMIT,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        # `dinero_limit` is the server's limit. Only a test against a sandbox whose limit it
        # raised passes another (see `workers.backends.Pace`); Dinero's own is the default.
        if not 0 < limit <= dinero_limit or window <= 0:
            raise ValueError(f"a budget needs 1-{dinero_limit} calls in a positive window")
        self._redis = redis
        self.limit = limit
        self.window = window
        self._sleep = sleep
        self._metrics = metrics
        self._acquire = redis.register_script(_ACQUIRE)
        self._free = redis.register_script(_FREE)

    def __repr__(self) -> str:
        return f"RateBudget(limit={self.limit}, window={self.window})"

    async def acquire(self, key: BudgetKey, *, max_wait: float = 0.0) -> float:
        """Takes a slot for one call: 0 once the call may go (after sleeping up to
        `max_wait` for a reserved slot), else the seconds until a slot frees (nothing taken).
        """
        granted, wait_ms = await self._acquire(
            keys=_keys(key),
            args=[self.limit, _ms(self.window), _ms(max_wait), uuid.uuid4().hex],
        )
        wait = int(wait_ms) / 1000
        if not granted:
            await self._count_wait("refused")
            return max(wait, 0.001)
        if wait > 0:
            await self._count_wait("slept", wait)
            await self._sleep(wait)
        return 0.0

    async def _count_wait(self, result: str, seconds: float = 0.0) -> None:
        if self._metrics is not None:
            await self._metrics.inc(RATE_BUDGET_WAITS, result=result)
            if seconds:
                await self._metrics.inc(RATE_BUDGET_WAIT_SECONDS, float(seconds))

    async def free_slots(self, key: BudgetKey, *, within: float) -> int:
        """About how many calls could be granted within `within` seconds: what the sweeper
        uses to enqueue no more documents than the organisation can take."""
        free = await self._free(keys=_keys(key), args=[self.limit, _ms(self.window), _ms(within)])
        return int(free)

    async def pause(self, key: BudgetKey, seconds: float) -> None:
        """Dinero said 429 anyway (another program on the same client id, or a reset on its
        side): no slot is granted to anyone for `seconds`."""
        pause_key = _PAUSE_PREFIX + str(key)
        # Only ever lengthen a pause: a shorter 429 must not cut a longer one short.
        current = await self._redis.pttl(pause_key)
        if current < _ms(seconds):
            await self._redis.set(pause_key, "1", px=max(_ms(seconds), 1))


class BookingLock:
    """One booking at a time per organisation: invoices and credit notes share one number
    series there, so concurrent bookings would take numbers in an order no one chose (and
    a stale-timestamp retry could jump the queue). A Redis lock with a token, released only
    by its holder; its TTL frees it if the holder dies mid-call."""

    def __init__(self, redis: Redis, *, ttl: float = BOOKING_LOCK_TTL) -> None:
        self._redis = redis
        self.ttl = ttl
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, organization_id: int, *, wait: float = 0.0) -> str | None:
        """The lock's token, or None if someone else still holds it after `wait` seconds."""
        token = uuid.uuid4().hex
        key = _BOOKING_PREFIX + str(organization_id)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            if await self._redis.set(key, token, nx=True, px=_ms(self.ttl)):
                return token
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return None
            await asyncio.sleep(min(left, random.uniform(0.01, 0.03)))

    async def release(self, organization_id: int, token: str) -> bool:
        """Releases the lock if `token` still holds it (not after it expired and was taken)."""
        released = await self._release(keys=[_BOOKING_PREFIX + str(organization_id)], args=[token])
        return bool(released)


def _keys(key: BudgetKey) -> list[str]:
    return [_RATE_PREFIX + str(key), _PAUSE_PREFIX + str(key)]


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
