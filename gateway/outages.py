"""Redis or Postgres away: which errors mean that, and how a process waits it out.

A process that meets one of these errors does not crash and does not log per retry: it logs
when the outage starts and when it ends, and backs off in between (`Outage`).
"""

from __future__ import annotations

import logging
import time
from typing import Final, Literal

import asyncpg
import redis.exceptions

Service = Literal["Redis", "Postgres"]

# asyncpg raises OSError (refused, reset, timed out) while connecting and its own errors once
# connected; redis-py wraps socket errors in its own. A query error is none of these.
# `InternalClientError` ("cannot switch to state N; another operation is in progress") is
# what asyncpg raises for a pooled connection the server cut off while it was shutting down
# (seen in tests/test_outages_end_to_end.py); a connection shared by two tasks at once would
# raise it too, but nothing here shares one.
_POSTGRES_ERRORS: Final = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InternalClientError,
)
_REDIS_ERRORS: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
CONNECTION_ERRORS: Final = (*_REDIS_ERRORS, *_POSTGRES_ERRORS)

FIRST_DELAY: Final = 0.5
MAX_DELAY: Final = 10.0


def unavailable_service(exc: BaseException) -> Service | None:
    """The service an error says is away, or None when it is some other error."""
    found = outage_error(exc)
    if found is None:
        return None
    return "Redis" if isinstance(found, _REDIS_ERRORS) else "Postgres"


def outage_error(exc: BaseException) -> BaseException | None:
    """The connection error behind `exc`: itself, or one it was raised from or while
    handling. An error raised while handling one of these is that outage too: a
    transaction's rollback on a connection the server just cut off fails with whatever
    state the driver was left in ("another operation is in progress"), and the cause is
    the outage, not the rollback."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CONNECTION_ERRORS):
            return current
        current = current.__cause__ or current.__context__
    return None


class Outage:
    """One process's view of a service being away: logs its start and its end, once each,
    and says how long to wait before the next try (doubling from `first` up to `cap`)."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        who: str,  # who is waiting: "the worker", "jobs"
        first: float = FIRST_DELAY,
        cap: float = MAX_DELAY,
    ) -> None:
        self.log = log
        self.who = who
        self.first = first
        self.cap = cap
        self.service: Service | None = None
        self.since: float | None = None
        self.tries = 0

    def failed(self, exc: BaseException, *, service: Service | None = None) -> float:
        """Records a failed try (at `service`, else the one `exc` names); answers the seconds
        to wait before the next."""
        service = service or unavailable_service(exc) or "Postgres"
        if self.since is None or service != self.service:
            shown = outage_error(exc) or exc
            self.log.warning(
                "%s unavailable to %s (%s: %s); retrying until it is back",
                service,
                self.who,
                type(shown).__name__,
                shown,
            )
            self.service = service
            self.since = self.since if self.since is not None else time.monotonic()
        delay = min(self.cap, self.first * 2.0**self.tries)
        self.tries += 1
        return delay

    def over(self) -> None:
        """Records a try that worked: the end of the outage, if there was one."""
        if self.since is None:
            return
        self.log.warning(
            "%s is back for %s after %.1f s (%d failed tries)",
            self.service,
            self.who,
            time.monotonic() - self.since,
            self.tries,
        )
        self.service, self.since, self.tries = None, None, 0
