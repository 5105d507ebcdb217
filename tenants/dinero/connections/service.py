"""Dinero connections: one token set per organisation, shared by every shop posting into it.

The hard rule is that a refresh token is spent at most once. Visma's one-time mode rotates it
on every refresh and kills the whole grant when an old one comes back outside the grace
window, so two processes refreshing at once would disconnect every shop on the organisation.
Every refresh therefore happens under `SELECT … FOR UPDATE` on the connection row: whoever
waits for the lock re-reads the row afterwards and uses the token the winner stored.

A connection is `active`, `needs_reconnect` (Visma said `invalid_grant`, or Dinero refused a
freshly refreshed token: no more refresh attempts until the owner reconnects) or `revoked`
(no shop uses it any more; tokens deleted).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from gateway.db import Connection, Pool
from gateway.dinero.oauth import (
    ConnectError,
    ConnectUnavailable,
    InvalidGrant,
    TokenSet,
    VismaConnect,
)
from gateway.secret import Secret
from gateway.vault import Vault, row_aad
from tenants.mail import alerts
from tenants.outbox import sweeps

log = logging.getLogger(__name__)

# Refresh on use when less than this is left, so a call never starts with a dying token.
REFRESH_MARGIN: Final = timedelta(minutes=5)
# The cron refreshes this long before expiry, and at least this often when idle.
REFRESH_AHEAD: Final = timedelta(minutes=10)
MAX_IDLE: Final = timedelta(hours=24)
_BACKOFF_BASE: Final = timedelta(seconds=30)
_BACKOFF_CAP: Final = timedelta(hours=1)


class ConnectionUnusable(Exception):
    """The shop has no working connection; its documents wait for a (re)connect."""


class NotConnected(ConnectionUnusable):
    pass


class NeedsReconnect(ConnectionUnusable):
    pass


class RefreshUnavailable(Exception):
    """Visma could not renew the token just now; try again after `retry_at`."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class DineroConnection:
    id: UUID
    organization_id: int
    organization_name: str
    is_pro: bool
    status: str
    access_expires_at: datetime | None
    connected_at: datetime
    last_refresh_at: datetime | None
    next_refresh_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int


_COLUMNS: Final = ", ".join(DineroConnection.__dataclass_fields__)


def _connection(row: asyncpg.Record) -> DineroConnection:
    return DineroConnection(**{key: row[key] for key in DineroConnection.__dataclass_fields__})


def access_aad(connection_id: UUID) -> str:
    return row_aad("dinero_connections", "access_token_enc", connection_id)


def refresh_aad(connection_id: UUID) -> str:
    return row_aad("dinero_connections", "refresh_token_enc", connection_id)


def next_refresh(access_expires_at: datetime, now: datetime) -> datetime:
    """When the cron should renew a token set it has just stored."""
    return min(access_expires_at - REFRESH_AHEAD, now + MAX_IDLE)


def backoff(failures: int, now: datetime) -> datetime:
    delay: timedelta = min(_BACKOFF_BASE * 2 ** max(failures - 1, 0), _BACKOFF_CAP)
    return now + delay * random.uniform(0.8, 1.2)


async def get(conn: Connection | Pool, connection_id: UUID) -> DineroConnection | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM dinero_connections WHERE id = $1",  # noqa: S608
        connection_id,
    )
    return _connection(row) if row else None


async def for_shop(conn: Connection | Pool, shop_id: UUID) -> DineroConnection | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join('c.' + c for c in DineroConnection.__dataclass_fields__)} "  # noqa: S608
        "FROM shops s JOIN dinero_connections c ON c.id = s.connection_id WHERE s.id = $1",
        shop_id,
    )
    return _connection(row) if row else None


async def access_token_for(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    connection_id: UUID,
    *,
    now: datetime,
    rejected: Secret | None = None,
) -> Secret:
    """A working access token for the connection, refreshing it when it is nearly spent.

    `rejected` is a token Dinero just answered 401 to: unless the stored token is already a
    different one (someone refreshed meanwhile), it is refreshed now whatever its expiry.
    Raises `NeedsReconnect` when the grant is dead and `RefreshUnavailable` when Visma could
    not be reached and the stored token has expired.
    """
    row = await pool.fetchrow(
        "SELECT status, access_token_enc, access_expires_at FROM dinero_connections WHERE id = $1",
        connection_id,
    )
    row, token = _usable(vault, connection_id, row)
    if rejected is None and row["access_expires_at"] - now > REFRESH_MARGIN:
        return token
    if rejected is not None and token != rejected:
        return token
    return await _refresh(pool, vault, visma, connection_id, now=now, rejected=rejected)


def _usable(
    vault: Vault, connection_id: UUID, row: asyncpg.Record | None
) -> tuple[asyncpg.Record, Secret]:
    """An active connection's row and its stored access token, or why there is none."""
    if row is None:
        raise NotConnected("the connection no longer exists")
    if row["status"] != "active":
        raise NeedsReconnect(f"the Dinero connection is {row['status'].replace('_', ' ')}")
    return row, vault.decrypt(row["access_token_enc"], aad=access_aad(connection_id))


async def refresh_if_due(
    pool: Pool, vault: Vault, visma: VismaConnect, connection_id: UUID, *, now: datetime
) -> bool:
    """The cron's refresh: renews the token set if it is still due once the row is locked."""
    try:
        await _refresh(pool, vault, visma, connection_id, now=now, cron=True)
    except (ConnectionUnusable, RefreshUnavailable):
        return False
    return True


async def due_for_refresh(pool: Pool, *, now: datetime, limit: int = 500) -> list[UUID]:
    rows = await pool.fetch(
        "SELECT id FROM dinero_connections WHERE status = 'active' AND next_refresh_at <= $1 "
        "ORDER BY next_refresh_at LIMIT $2",
        now,
        limit,
    )
    return [r["id"] for r in rows]


async def _refresh(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    connection_id: UUID,
    *,
    now: datetime,
    rejected: Secret | None = None,
    cron: bool = False,
) -> Secret:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT status, access_token_enc, refresh_token_enc, access_expires_at, "
            "next_refresh_at, consecutive_failures, "
            "COALESCE(last_refresh_at, connected_at) AS last_success FROM dinero_connections "
            "WHERE id = $1 FOR UPDATE",
            connection_id,
        )
        row, current = _usable(vault, connection_id, row)
        # Whoever held the lock before us may have refreshed already: use their token.
        if cron:
            if row["next_refresh_at"] is not None and row["next_refresh_at"] > now:
                return current
        elif rejected is None:
            if row["access_expires_at"] - now > REFRESH_MARGIN:
                return current
        elif current != rejected:
            return current

        refresh_token = vault.decrypt(row["refresh_token_enc"], aad=refresh_aad(connection_id))
        outcome: ConnectionUnusable | RefreshUnavailable
        try:
            tokens = await _refresh_once_more_if_lost(visma, refresh_token, now=now)
        except InvalidGrant:
            await _mark_needs_reconnect(
                conn, connection_id, "Visma refused to renew the token (invalid_grant)", now=now
            )
            outcome = NeedsReconnect("the Dinero connection must be reconnected")
        except ConnectError as exc:
            failures = row["consecutive_failures"] + 1
            retry_at = backoff(failures, now)
            await conn.execute(
                "UPDATE dinero_connections SET consecutive_failures = $2, last_error = $3, "
                "last_error_at = $4, next_refresh_at = $5, updated_at = $4 WHERE id = $1",
                connection_id,
                failures,
                f"token renewal failed: {exc}",
                now,
                retry_at,
            )
            log.warning("token renewal failed for connection %s: %s", connection_id, exc)
            await alerts.renewal_failing(
                conn, connection_id, last_success=row["last_success"], now=now
            )
            if row["access_expires_at"] > now:
                return current  # still valid for a while; renewal is tried again later
            outcome = RefreshUnavailable(
                "Visma Connect is not answering; the token will be renewed later",
                retry_at=retry_at,
            )
        else:
            await _store_tokens(conn, vault, connection_id, tokens, now=now)
            return tokens.access_token
    # Raised only once the transaction has committed what we learned.
    raise outcome


async def _refresh_once_more_if_lost(
    visma: VismaConnect, refresh_token: Secret, *, now: datetime
) -> TokenSet:
    """Refreshes; if the answer was lost on the way, asks once more with the same token.

    Visma's one-time mode keeps the old refresh token usable once more for a short grace
    window, which exists exactly for this: the first request may have rotated it already.
    """
    try:
        return await visma.refresh(refresh_token, now=now)
    except ConnectUnavailable as exc:
        if not exc.uncertain:
            raise
        log.info("token renewal answer was lost; retrying with the same refresh token")
        return await visma.refresh(refresh_token, now=now)


async def _store_tokens(
    conn: Connection, vault: Vault, connection_id: UUID, tokens: TokenSet, *, now: datetime
) -> None:
    refresh = tokens.refresh_token
    if refresh is None:  # re-use mode may leave it out: the old one stays valid
        await conn.execute(
            "UPDATE dinero_connections SET access_token_enc = $2, access_expires_at = $3, "
            "last_refresh_at = $4, next_refresh_at = $5, consecutive_failures = 0, "
            "last_error = NULL, last_error_at = NULL, updated_at = $4 WHERE id = $1",
            connection_id,
            vault.encrypt(tokens.access_token, aad=access_aad(connection_id)),
            tokens.expires_at,
            now,
            next_refresh(tokens.expires_at, now),
        )
        return
    await conn.execute(
        "UPDATE dinero_connections SET access_token_enc = $2, refresh_token_enc = $3, "
        "access_expires_at = $4, last_refresh_at = $5, next_refresh_at = $6, "
        "consecutive_failures = 0, last_error = NULL, last_error_at = NULL, updated_at = $5 "
        "WHERE id = $1",
        connection_id,
        vault.encrypt(tokens.access_token, aad=access_aad(connection_id)),
        vault.encrypt(refresh, aad=refresh_aad(connection_id)),
        tokens.expires_at,
        now,
        next_refresh(tokens.expires_at, now),
    )


async def mark_needs_reconnect(
    pool: Pool, connection_id: UUID, reason: str, *, now: datetime
) -> None:
    """Dinero refused a token that was just renewed: the grant is dead, stop trying."""
    async with pool.acquire() as conn, conn.transaction():
        await _mark_needs_reconnect(conn, connection_id, reason, now=now)


async def _mark_needs_reconnect(
    conn: Connection, connection_id: UUID, reason: str, *, now: datetime
) -> None:
    status = await conn.fetchval(
        "UPDATE dinero_connections SET status = 'needs_reconnect', last_error = $2, "
        "last_error_at = $3, next_refresh_at = NULL, updated_at = $3 "
        "WHERE id = $1 AND status = 'active' RETURNING status",
        connection_id,
        reason,
        now,
    )
    if status is None:
        return  # already parked by someone else: one event is enough
    await sweeps.park_documents(conn, connection_id, now=now)
    await alerts.connection_needs_reconnect(conn, connection_id, now=now)
    await connection_event(
        conn,
        connection_id,
        "connection.needs_reconnect",
        "error",
        f"Dinero connection needs to be reconnected: {reason}",
        now=now,
    )
    log.warning("connection %s needs reconnect: %s", connection_id, reason)


async def connection_event(
    conn: Connection,
    connection_id: UUID,
    kind: str,
    level: str,
    message: str,
    *,
    now: datetime,
) -> None:
    """One event per shop on the connection (owners see theirs), or one for the admin."""
    inserted = await conn.execute(
        "INSERT INTO events (shop_id, connection_id, kind, level, message, created_at) "
        "SELECT id, $1, $2, $3, $4, $5 FROM shops WHERE connection_id = $1",
        connection_id,
        kind,
        level,
        message,
        now,
    )
    if inserted.split()[-1] == "0":
        await conn.execute(
            "INSERT INTO events (connection_id, kind, level, message, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            connection_id,
            kind,
            level,
            message,
            now,
        )
