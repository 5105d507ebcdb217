"""Connect / reconnect in flight: from "Connect" to a linked shop.

1. `start` stores a single-use `state` (hashed) bound to the session and the shop, with the
   PKCE verifier, and returns what the authorize URL needs.
2. `claim` spends the state on the callback: only the same session may, only once, and only
   within `FLOW_TTL`.
3. After the code exchange, `hold_tokens` keeps the token set (encrypted) while the owner
   picks an organisation; `take_tokens` hands it over once, to link the shop.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.dinero.oauth import TokenSet, new_pkce
from gateway.secret import Secret
from gateway.vault import Vault, row_aad
from tenants.accounts import users

FLOW_TTL: Final = timedelta(minutes=15)


class FlowError(Exception):
    """The flow cannot go on; the message is safe to show the owner."""


@dataclass(frozen=True)
class StartedFlow:
    state: str = field(repr=False)
    code_challenge: str


@dataclass(frozen=True)
class ClaimedFlow:
    id: UUID
    shop_id: UUID
    user_id: UUID
    code_verifier: Secret


@dataclass(frozen=True)
class OfferedOrganization:
    id: int
    name: str
    is_pro: bool


def _aad(column: str, flow_id: UUID) -> str:
    return row_aad("oauth_flows", column, flow_id)


async def start(
    pool: Pool,
    vault: Vault,
    *,
    session_hash: bytes,
    user_id: UUID,
    shop_id: UUID,
    now: datetime,
) -> StartedFlow:
    state = secrets.token_urlsafe(32)
    pkce = new_pkce()
    flow_id: UUID = await pool.fetchval("SELECT gen_random_uuid()")
    await pool.execute(
        "INSERT INTO oauth_flows (id, state_hash, session_hash, user_id, shop_id, "
        "code_verifier_enc, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        flow_id,
        users.hash_token(state),
        session_hash,
        user_id,
        shop_id,
        vault.encrypt(pkce.verifier, aad=_aad("code_verifier_enc", flow_id)),
        now,
        now + FLOW_TTL,
    )
    return StartedFlow(state=state, code_challenge=pkce.challenge)


async def claim(
    pool: Pool, vault: Vault, *, state: str, session_hash: bytes, now: datetime
) -> ClaimedFlow:
    """Spends the state. Raises FlowError for unknown, used, expired or foreign states."""
    row = await pool.fetchrow(
        "UPDATE oauth_flows SET exchanged_at = $3 "
        "WHERE state_hash = $1 AND session_hash = $2 AND exchanged_at IS NULL "
        "AND completed_at IS NULL AND expires_at > $3 "
        "RETURNING id, shop_id, user_id, code_verifier_enc",
        users.hash_token(state),
        session_hash,
        now,
    )
    if row is None:
        raise FlowError(
            "This connection attempt is not valid any more (it was used, it expired, or it "
            "was started in another browser). Please start again."
        )
    verifier = vault.decrypt(row["code_verifier_enc"], aad=_aad("code_verifier_enc", row["id"]))
    return ClaimedFlow(
        id=row["id"], shop_id=row["shop_id"], user_id=row["user_id"], code_verifier=verifier
    )


async def abandon(pool: Pool, flow_id: UUID, *, now: datetime) -> None:
    await pool.execute(
        "UPDATE oauth_flows SET completed_at = $2 WHERE id = $1 AND completed_at IS NULL",
        flow_id,
        now,
    )


async def hold_tokens(
    pool: Pool,
    vault: Vault,
    flow_id: UUID,
    tokens: TokenSet,
    organizations: list[OfferedOrganization],
) -> None:
    """Keeps the exchanged token set until the owner picks an organisation."""
    offered = [{"id": o.id, "name": o.name, "is_pro": o.is_pro} for o in organizations]
    await pool.execute(
        "UPDATE oauth_flows SET access_token_enc = $2, refresh_token_enc = $3, "
        "access_expires_at = $4, granted_scope = $5, organizations = $6::jsonb WHERE id = $1",
        flow_id,
        vault.encrypt(tokens.access_token, aad=_aad("access_token_enc", flow_id)),
        vault.encrypt(tokens.refresh_token, aad=_aad("refresh_token_enc", flow_id))
        if tokens.refresh_token is not None
        else None,
        tokens.expires_at,
        tokens.scope,
        json.dumps(offered),
    )


@dataclass(frozen=True)
class PendingPick:
    id: UUID
    shop_id: UUID
    organizations: list[OfferedOrganization]


async def pending(
    pool: Pool, flow_id: UUID, *, session_hash: bytes, now: datetime
) -> PendingPick | None:
    """The flow waiting for this session to pick an organisation; None otherwise."""
    row = await pool.fetchrow(
        "SELECT id, shop_id, organizations FROM oauth_flows WHERE id = $1 AND session_hash = $2 "
        "AND access_token_enc IS NOT NULL AND completed_at IS NULL AND expires_at > $3",
        flow_id,
        session_hash,
        now,
    )
    if row is None:
        return None
    return PendingPick(
        id=row["id"], shop_id=row["shop_id"], organizations=_offered(row["organizations"])
    )


async def take_tokens(
    conn: Connection, vault: Vault, flow_id: UUID, *, session_hash: bytes, now: datetime
) -> tuple[PendingPick, TokenSet]:
    """Hands the held token set over once and forgets it. Run inside a transaction."""
    row = await conn.fetchrow(
        "UPDATE oauth_flows f SET completed_at = $3, access_token_enc = NULL, "
        "refresh_token_enc = NULL "
        "FROM (SELECT id, access_token_enc, refresh_token_enc FROM oauth_flows "
        "WHERE id = $1 FOR UPDATE) held "
        "WHERE f.id = held.id AND f.session_hash = $2 AND f.access_token_enc IS NOT NULL "
        "AND f.completed_at IS NULL AND f.expires_at > $3 "
        "RETURNING f.id, f.shop_id, f.organizations, held.access_token_enc AS access_enc, "
        "held.refresh_token_enc AS refresh_enc, f.access_expires_at, f.granted_scope",
        flow_id,
        session_hash,
        now,
    )
    if row is None:
        raise FlowError("This choice is not valid any more. Please connect again.")
    tokens = TokenSet(
        access_token=vault.decrypt(row["access_enc"], aad=_aad("access_token_enc", row["id"])),
        refresh_token=vault.decrypt(row["refresh_enc"], aad=_aad("refresh_token_enc", row["id"]))
        if row["refresh_enc"] is not None
        else None,
        expires_at=row["access_expires_at"],
        scope=row["granted_scope"] or "",
        token_type="Bearer",  # noqa: S106 - the scheme, not a secret
    )
    pick = PendingPick(
        id=row["id"], shop_id=row["shop_id"], organizations=_offered(row["organizations"])
    )
    return pick, tokens


def _offered(raw: Any) -> list[OfferedOrganization]:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return [
        OfferedOrganization(id=int(o["id"]), name=str(o["name"]), is_pro=bool(o["is_pro"]))
        for o in data or []
    ]
