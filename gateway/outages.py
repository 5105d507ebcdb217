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
    if isinstance(exc, _REDIS_ERRORS):
        return "Redis"
    if isinstance(exc, _POSTGRES_ERRORS):
        return "Postgres"
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
            self.log.warning(
                "%s unavailable to %s (%s: %s); retrying until it is back",
                service,
                self.who,
                type(exc).__name__,
                exc,
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
