"""Linking shops to Dinero connections: a completed consent connects a shop to its
organisation's connection (one per organisation, shared by its shops) and releases what
was parked; disconnecting unlinks it; a probe asks Dinero whether the connection works."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.errors import DineroError, Unauthorized
from gateway.dinero.oauth import (
    TokenSet,
    VismaConnect,
)
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.dinero.connections import service
from tenants.dinero.connections.service import ConnectionUnusable, RefreshUnavailable
from tenants.outbox import sweeps
from tenants.shops import repository as shops

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    """What a completed consent gives us for one organisation."""

    organization_id: int
    organization_name: str
    is_pro: bool
    tokens: TokenSet


async def connect_shop(
    conn: Connection,
    vault: Vault,
    *,
    shop_id: UUID,
    grant: Grant,
    user_id: UUID | None,
    now: datetime,
) -> UUID:
    """Stores the grant on its organisation's connection and links the shop to it.

    One row per organisation: a newer consent replaces the token set (and cures
    `needs_reconnect`); the shop keeps every setting. A shop moving to another organisation
    leaves its old connection to the shops still on it. Run inside a transaction.
    Returns the connection id.
    """
    connection_id: UUID = await conn.fetchval(
        "INSERT INTO dinero_connections (organization_id, organization_name, is_pro, status, "
        "access_token_enc, refresh_token_enc, access_expires_at) "
        "VALUES ($1, $2, $3, 'revoked', NULL, NULL, NULL) "
        "ON CONFLICT (organization_id) "
        "DO UPDATE SET organization_name = EXCLUDED.organization_name "
        "RETURNING id",
        grant.organization_id,
        grant.organization_name,
        grant.is_pro,
    )
    await conn.execute("SELECT 1 FROM dinero_connections WHERE id = $1 FOR UPDATE", connection_id)
    tokens = grant.tokens
    if tokens.refresh_token is None:
        raise ValueError("Visma returned no refresh token (is offline_access granted?)")
    await conn.execute(
        "UPDATE dinero_connections SET status = 'active', is_pro = $2, access_token_enc = $3, "
        "refresh_token_enc = $4, access_expires_at = $5, granted_scope = $6, "
        "connected_by = $7, connected_at = $8, last_refresh_at = $8, next_refresh_at = $9, "
        "last_error = NULL, last_error_at = NULL, consecutive_failures = 0, updated_at = $8 "
        "WHERE id = $1",
        connection_id,
        grant.is_pro,
        vault.encrypt(tokens.access_token, aad=service.access_aad(connection_id)),
        vault.encrypt(tokens.refresh_token, aad=service.refresh_aad(connection_id)),
        tokens.expires_at,
        tokens.scope,
        user_id,
        now,
        service.next_refresh(tokens.expires_at, now),
    )
    previous = await shops.set_connection(conn, shop_id, connection_id, now=now)
    if previous is not None and previous != connection_id:
        await _forget_if_unused(conn, previous, now=now)
    released = await sweeps.release_documents(conn, connection_id, now=now)
    await service.connection_event(
        conn,
        connection_id,
        "connection.connected",
        "info",
        f"Connected to Dinero organisation {grant.organization_name} ({grant.organization_id})"
        + (f"; {released} waiting documents released" if released else ""),
        now=now,
    )
    return connection_id


async def disconnect_shop(conn: Connection, *, shop_id: UUID, now: datetime) -> None:
    """Unlinks the shop; the connection keeps serving other shops, or is forgotten."""
    previous = await shops.set_connection(conn, shop_id, None, now=now)
    if previous is None:
        return
    await conn.execute(
        "INSERT INTO events (shop_id, connection_id, kind, message, created_at) "
        "VALUES ($1, $2, 'connection.disconnected', 'Disconnected from Dinero', $3)",
        shop_id,
        previous,
        now,
    )
    await _forget_if_unused(conn, previous, now=now)


async def _forget_if_unused(conn: Connection, connection_id: UUID, *, now: datetime) -> None:
    """A connection no shop uses keeps no tokens: nothing to leak, nothing to refresh."""
    await conn.execute(
        "UPDATE dinero_connections SET status = 'revoked', access_token_enc = NULL, "
        "refresh_token_enc = NULL, access_expires_at = NULL, next_refresh_at = NULL, "
        "updated_at = $2 "
        "WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM shops WHERE connection_id = $1)",
        connection_id,
        now,
    )


async def probe(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    dinero: Callable[[Secret], DineroClient],
    connection_id: UUID,
    *,
    now: datetime,
) -> bool:
    """Asks Dinero whether the connection still works (`GET /v1/organizations`, which no
    organisation's rate budget pays for). A revoked grant is found and marked
    `needs_reconnect` here, before any document has to fail on it. Transient trouble is
    not a verdict: answers True then."""
    try:
        token = await service.access_token_for(pool, vault, visma, connection_id, now=now)
        try:
            await dinero(token).organizations()
        except Unauthorized:
            token = await service.access_token_for(
                pool, vault, visma, connection_id, now=now, rejected=token
            )
            try:
                await dinero(token).organizations()
            except Unauthorized:
                await service.mark_needs_reconnect(
                    pool, connection_id, "Dinero refuses the renewed token", now=now
                )
                return False
    except ConnectionUnusable:
        return False
    except (RefreshUnavailable, DineroError) as exc:
        log.info("probe of connection %s inconclusive: %s", connection_id, exc)
    return True
