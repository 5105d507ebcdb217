"""Login throttling: failed logins counted per e-mail and per client address in Redis.

Each key is a sliding-window log (a sorted set of failure times), so a burst cannot slip
through at a fixed window's edge. Only failures count, and a refused attempt is not one:
a blocked caller is let in again once its oldest counted failures leave the window, however
often it keeps trying meanwhile. A successful login forgets the e-mail's failures (not the
address's: one good account must not reset an address that is guessing at others).

The e-mail limit stops guessing at one account from many addresses; the address limit stops
one address trying many accounts. Failures are counted for unknown e-mails too, so the limit
says nothing about which accounts exist. E-mails are hashed in key names (no addresses of
people in Redis), and IPv6 clients are counted per /64, the block one host usually has.

If Redis cannot be reached, logins are not throttled (a Redis outage must not lock everyone
out) and each such miss is logged as a warning. Check and record are separate steps, so a
burst of parallel requests may overshoot a limit by a few; scrypt makes each one slow anyway.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta


# scrypt already costs ~0.4 s a guess; these keep an online attack at ~1,000 guesses a day
# per account while leaving room for a few typos and a shared office address.
PER_EMAIL: Final = Limit(failures=10, window=timedelta(minutes=15))
PER_ADDRESS: Final = Limit(failures=30, window=timedelta(minutes=15))
_PREFIX: Final = "gateway:login-failures"


@dataclass(frozen=True)
class Blocked:
    by: Literal["email", "address"]
    retry_after: timedelta

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds()))

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))


def address_key(host: str | None) -> str:
    """What failures from `host` are counted under: the IPv4 address or the IPv6 /64."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        per_email: Limit = PER_EMAIL,
        per_address: Limit = PER_ADDRESS,
        prefix: str = _PREFIX,
    ) -> None:
        self.redis = redis
        self.limits: dict[Literal["email", "address"], Limit] = {
            "email": per_email,
            "address": per_address,
        }
        self.prefix = prefix

    def _keys(self, *, address: str | None, email: str) -> dict[Literal["email", "address"], str]:
        return {
            "email": f"{self.prefix}:email:{email_key(email)}",
            "address": f"{self.prefix}:address:{address_key(address)}",
        }

    async def blocked(self, *, address: str | None, email: str, now: datetime) -> Blocked | None:
        """Why this attempt must wait, or None; the e-mail's limit is named first."""
        keys = self._keys(address=address, email=email)
        try:
            for by, key in keys.items():
                wait = await self._wait(key, self.limits[by], now)
                if wait is not None:
                    return Blocked(by=by, retry_after=wait)
        except (RedisError, OSError) as exc:
            log.warning("login throttling unavailable, not throttling: %s", type(exc).__name__)
        return None

    async def failed(self, *, address: str | None, email: str, now: datetime) -> None:
        stamp = now.timestamp()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for by, key in self._keys(address=address, email=email).items():
                    # Unique members: two failures in the same microsecond both count.
                    pipe.zadd(key, {f"{stamp:.6f}:{secrets.token_hex(4)}": stamp})
                    pipe.pexpire(key, self.limits[by].window)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("login throttling could not record a failure: %s", type(exc).__name__)

    async def succeeded(self, *, email: str) -> None:
        try:
            await self.redis.delete(f"{self.prefix}:email:{email_key(email)}")
        except (RedisError, OSError) as exc:
            log.warning("login throttling could not forget failures: %s", type(exc).__name__)

    async def _wait(self, key: str, limit: Limit, now: datetime) -> timedelta | None:
        """How long until fewer than `limit.failures` remain in the window, if any remain."""
        start = now.timestamp() - limit.window.total_seconds()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", start)
            pipe.zrange(key, 0, -1, withscores=True)
            _, entries = await pipe.execute()
        excess = len(entries) - limit.failures
        if excess < 0:
            return None
        # Once the `excess + 1` oldest failures have left the window, the caller may try again.
        leaves_at = entries[excess][1] + limit.window.total_seconds()
        return timedelta(seconds=max(leaves_at - now.timestamp(), 0.001))
