"""The audit log: who changed a shop's settings, secrets, connections, activation or
members, when, and in a few words. Written in the same transaction as the change it
describes, so the log never claims a change that was rolled back, nor misses one that
was not. A secret's value never goes in: "rolled the ingest secret" says all there is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args
from uuid import UUID

from gateway.db import Connection, Pool

Action = Literal[
    "settings.changed",
    "secret.rolled",
    "dinero.connected",
    "dinero.disconnected",
    "source.connected",
    "source.changed",
    "source.backfill",
    "shop.activated",
    "member.invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "invite.revoked",
]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
MAX_DETAIL: Final = 500
PAGE_SIZE: Final = 100


@dataclass(frozen=True)
class Actor:
    """Who did it: a user (None for the system), and their e-mail as it was then."""

    user_id: UUID | None
    email: str


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: datetime
    actor_email: str
    action: Action
    detail: str


async def record(
    conn: Connection | Pool,
    shop_id: UUID,
    actor: Actor,
    action: Action,
    detail: str = "",
    *,
    now: datetime,
) -> None:
    """Adds one line. `detail` is data for the reader (an e-mail, an organisation's name,
    the settings that changed), cut to MAX_DETAIL characters; never a secret."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    await conn.execute(
        "INSERT INTO audit_log (shop_id, actor_id, actor_email, action, detail, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        shop_id,
        actor.user_id,
        actor.email[:254],
        action,
        detail[:MAX_DETAIL],
        now,
    )


async def recent(conn: Connection | Pool, shop_id: UUID, *, limit: int = PAGE_SIZE) -> list[Entry]:
    """The shop's newest lines first."""
    rows = await conn.fetch(
        "SELECT id, created_at, actor_email, action, detail FROM audit_log "
        "WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        shop_id,
        limit,
    )
    return [Entry(**dict(row)) for row in rows]
