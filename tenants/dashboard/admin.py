"""What the platform admin sees and does: every Dinero connection with what its trouble
costs, any shop read-only, platform counters, and fresh links for users. All of the
admin's SQL is here; nothing in it is scoped to a tenant, so only admin pages may call it.

A connection's trouble, in the words of the admin page's help text:

- `needs_reconnect`: Visma refused to renew the grant (or Dinero refused a renewed token).
  Nothing retries; its shops' documents are parked until an owner reconnects.
- `expired`: still `active`, but the access token has run out and renewal is not getting
  through: it is failing, or it is more than `OVERDUE` late (the cron is not running).
- `expiring` (within 7 days): still working, but at risk of needing a reconnect soon. We
  cannot read a refresh token's expiry, so this is judged from what we know: renewal has
  failed at least once and is being retried; or the last successful renewal is older than
  `RENEWAL_STALE` (the cron renews every connection at least daily, because an unused
  refresh token lapses; past 20 hours that daily renewal is overdue); or the consent is
  older than a year minus 7 days (in Visma's re-use mode a refresh token lives at most a
  year). An `expired` connection is not also counted as expiring.
- `failing`: active, and the last renewal attempts failed (`consecutive_failures > 0`).

Connections are sorted by impact: parked documents, then shops affected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Generic, Literal, TypeVar, get_args
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.accounts import users

Filter = Literal["expired", "needs_reconnect", "expiring", "failing"]
FILTERS: Final[tuple[Filter, ...]] = get_args(Filter)

OVERDUE: Final = timedelta(minutes=15)
RENEWAL_STALE: Final = timedelta(hours=20)
GRANT_LIFETIME: Final = timedelta(days=365)
EXPIRING_WITHIN: Final = timedelta(days=7)
COUNTED_SINCE: Final = timedelta(hours=24)
PAGE_SIZE: Final = 50

CONNECTION_STATUSES: Final = ("active", "needs_reconnect", "revoked")
DOCUMENT_STATES: Final = (
    "waiting",
    "awaiting_activation",
    "queued",
    "needs_reconnect",
    "failed",
    "posted",
    "cancelled",
)

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int  # 1-based
    has_next: bool


@dataclass(frozen=True)
class ConnectionHealth:
    id: UUID
    organization_id: int
    organization_name: str
    status: str
    access_expires_at: datetime | None
    last_refresh_at: datetime | None
    next_refresh_at: datetime | None
    connected_at: datetime
    consecutive_failures: int
    last_error: str | None
    last_error_at: datetime | None
    shops: int
    shop_ids: list[UUID]
    shop_names: list[str]
    parked_documents: int
    expired: bool
    expiring: bool
    failing: bool

    @property
    def shop_links(self) -> list[tuple[UUID, str]]:
        return list(zip(self.shop_ids, self.shop_names, strict=True))


# The flags, over `dinero_connections c`. $1 = now, $2 = now - OVERDUE,
# $3 = now - RENEWAL_STALE, $4 = now - (GRANT_LIFETIME - EXPIRING_WITHIN).
_FAILING: Final = "(c.status = 'active' AND c.consecutive_failures > 0)"
_EXPIRED: Final = (
    "(c.status = 'active' AND c.access_expires_at <= $1 AND (c.consecutive_failures > 0 "
    "OR c.next_refresh_at IS NULL OR c.next_refresh_at < $2))"
)
_EXPIRING: Final = (
    f"(c.status = 'active' AND NOT {_EXPIRED} AND (c.consecutive_failures > 0 "
    "OR coalesce(c.last_refresh_at, c.connected_at) < $3 OR c.connected_at < $4))"
)
_FLAG_SQL: Final[dict[Filter, str]] = {
    "expired": "expired",
    "needs_reconnect": "status = 'needs_reconnect'",
    "expiring": "expiring",
    "failing": "failing",
}

_FLAGGED: Final = f"""
    SELECT c.id, c.organization_id, c.organization_name, c.status, c.access_expires_at,
           c.last_refresh_at, c.next_refresh_at, c.connected_at, c.consecutive_failures,
           c.last_error, c.last_error_at,
           {_EXPIRED} AS expired, {_EXPIRING} AS expiring, {_FAILING} AS failing
    FROM dinero_connections c
"""  # noqa: S608 - constant fragments only


def _flag_params(now: datetime) -> tuple[datetime, datetime, datetime, datetime]:
    return (
        now,
        now - OVERDUE,
        now - RENEWAL_STALE,
        now - (GRANT_LIFETIME - EXPIRING_WITHIN),
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def connections_page(
    conn: Connection | Pool,
    *,
    now: datetime,
    flag: Filter | None = None,
    search: str = "",
    page: int = 1,
) -> Page[ConnectionHealth]:
    """One page of connections, worst impact first, narrowed by a flag and a search over
    organisation name or id and the names of its shops."""
    page = max(page, 1)
    condition = _FLAG_SQL[flag] if flag is not None else "true"
    # Counted per connection in grouped passes (shops from their index, parked documents
    # from the counts kept per connection, `tenants.outbox.counts`), not once per
    # connection: at 2,000 connections the per-row form cost 2,000 index probes of each
    # kind. Only the page's rows then read their shops' names.
    rows = await conn.fetch(
        f"""
        WITH shop_counts AS (
            SELECT connection_id, count(*) AS shops FROM shops
            WHERE connection_id IS NOT NULL GROUP BY connection_id
        ),
        parked AS (
            SELECT connection_id, sum(n) AS parked FROM connection_document_counts
            WHERE state = 'needs_reconnect' GROUP BY connection_id
        ),
        ranked AS (
            SELECT f.*, coalesce(sc.shops, 0) AS shops,
                   coalesce(p.parked, 0)::bigint AS parked_documents
            FROM ({_FLAGGED}) f
            LEFT JOIN shop_counts sc ON sc.connection_id = f.id
            LEFT JOIN parked p ON p.connection_id = f.id
            WHERE {condition}
              AND ($5 = '' OR f.organization_name ILIKE $6 OR f.organization_id::text = $5
                   OR f.id::text = $5
                   OR EXISTS (SELECT 1 FROM shops s WHERE s.connection_id = f.id
                              AND (s.name ILIKE $6 OR s.id::text = $5)))
            ORDER BY parked_documents DESC, shops DESC, f.organization_name, f.id
            LIMIT $7 OFFSET $8
        )
        SELECT r.*, coalesce(i.shop_ids, '{{}}') AS shop_ids,
               coalesce(i.shop_names, '{{}}') AS shop_names
        FROM ranked r
        LEFT JOIN LATERAL (
            SELECT array_agg(s.id ORDER BY s.name, s.id) AS shop_ids,
                   array_agg(s.name ORDER BY s.name, s.id) AS shop_names
            FROM shops s WHERE s.connection_id = r.id
        ) i ON true
        ORDER BY r.parked_documents DESC, r.shops DESC, r.organization_name, r.id
        """,  # noqa: S608 - the condition is one of the constants in _FLAG_SQL
        *_flag_params(now),
        search,
        _like(search),
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE,
    )
    items = [
        ConnectionHealth(**{k: r[k] for k in ConnectionHealth.__dataclass_fields__}) for r in rows
    ]
    return Page(items=items[:PAGE_SIZE], number=page, has_next=len(items) > PAGE_SIZE)


async def flag_counts(conn: Connection | Pool, *, now: datetime) -> dict[Filter, int]:
    row = await conn.fetchrow(
        f"""
        SELECT count(*) FILTER (WHERE expired) AS expired,
               count(*) FILTER (WHERE status = 'needs_reconnect') AS needs_reconnect,
               count(*) FILTER (WHERE expiring) AS expiring,
               count(*) FILTER (WHERE failing) AS failing
        FROM ({_FLAGGED}) f
        """,  # noqa: S608 - constant fragments only
        *_flag_params(now),
    )
    assert row is not None
    return {flag: row[flag] for flag in FILTERS}


@dataclass(frozen=True)
class Counters:
    shops: int
    users: int
    connections: dict[str, int]
    documents: dict[str, int]  # created in the last COUNTED_SINCE, by their state now
    parked_now: int
    failed_now: int


async def counters(conn: Connection | Pool, *, now: datetime) -> Counters:
    """In one round trip: this runs beside the connection list on every overview."""
    row = await conn.fetchrow(
        """
        SELECT (SELECT count(*) FROM shops) AS shops,
               (SELECT count(*) FROM users WHERE disabled_at IS NULL) AS users,
               (SELECT coalesce(sum(n), 0)::bigint FROM document_totals
                WHERE state = 'needs_reconnect') AS parked,
               (SELECT coalesce(sum(n), 0)::bigint FROM document_totals
                WHERE state = 'failed') AS failed,
               (SELECT coalesce(json_object_agg(status, n), '{}') FROM
                    (SELECT status, count(*) AS n FROM dinero_connections GROUP BY status) c
               ) AS by_status,
               (SELECT coalesce(json_object_agg(state, n), '{}') FROM
                    (SELECT state, count(*) AS n FROM documents WHERE created_at > $1
                     GROUP BY state) d
               ) AS by_state
        """,
        now - COUNTED_SINCE,
    )
    assert row is not None
    statuses: dict[str, int] = row["by_status"]
    states: dict[str, int] = row["by_state"]
    return Counters(
        shops=row["shops"],
        users=row["users"],
        connections={s: statuses.get(s, 0) for s in CONNECTION_STATUSES},
        documents={s: states.get(s, 0) for s in DOCUMENT_STATES},
        parked_now=row["parked"],
        failed_now=row["failed"],
    )


@dataclass(frozen=True)
class ShopSummary:
    id: UUID
    name: str
    slug: str
    created_at: datetime
    owners: list[str]
    connection_status: str | None
    organization_name: str | None
    parked_documents: int
    failed_documents: int


async def shops_page(
    conn: Connection | Pool, *, search: str = "", page: int = 1
) -> Page[ShopSummary]:
    """Every shop by name, narrowed by name, slug, id or an owner's e-mail."""
    page = max(page, 1)
    rows = await conn.fetch(
        """
        SELECT s.id, s.name, s.slug, s.created_at, c.status AS connection_status,
               c.organization_name,
               coalesce((SELECT array_agg(u.email ORDER BY u.email) FROM memberships m
                         JOIN users u ON u.id = m.user_id WHERE m.shop_id = s.id), '{}') AS owners,
               (SELECT coalesce(sum(d.n), 0)::bigint FROM document_counts d
                WHERE d.shop_id = s.id AND d.state = 'needs_reconnect') AS parked_documents,
               (SELECT coalesce(sum(d.n), 0)::bigint FROM document_counts d
                WHERE d.shop_id = s.id AND d.state = 'failed') AS failed_documents
        FROM shops s LEFT JOIN dinero_connections c ON c.id = s.connection_id
        WHERE $1 = '' OR s.name ILIKE $2 OR s.slug ILIKE $2 OR s.id::text = $1
              OR EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                         WHERE m.shop_id = s.id AND u.email ILIKE $2)
        ORDER BY s.name, s.id
        LIMIT $3 OFFSET $4
        """,
        search,
        _like(search),
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE,
    )
    items = [ShopSummary(**{k: r[k] for k in ShopSummary.__dataclass_fields__}) for r in rows]
    return Page(items=items[:PAGE_SIZE], number=page, has_next=len(items) > PAGE_SIZE)


@dataclass(frozen=True)
class Member:
    user_id: UUID
    email: str
    role: str
    has_password: bool
    is_platform_admin: bool
    disabled: bool


@dataclass(frozen=True)
class ShopEvent:
    created_at: datetime
    level: str
    kind: str
    message: str
    document_id: int | None


@dataclass(frozen=True)
class ShopDetail:
    id: UUID
    name: str
    slug: str
    trigger: str
    mode: str
    document_kind: str
    invoice_text: str
    language: str
    register_payments: bool
    payment_accounts: dict[str, Any]
    account_overrides: dict[str, Any]
    receivable_account: int | None
    activated_at: datetime | None
    created_at: datetime
    ingest_secret_rolled_at: datetime
    connection_id: UUID | None
    members: list[Member]
    documents: dict[str, int]
    events: list[ShopEvent]


async def shop_detail(
    conn: Connection | Pool, shop_id: UUID, *, events: int = 50
) -> ShopDetail | None:
    row = await conn.fetchrow(
        "SELECT id, name, slug, trigger, mode, document_kind, invoice_text, language, "
        "register_payments, payment_accounts, account_overrides, receivable_account, "
        "activated_at, created_at, ingest_secret_rolled_at, connection_id "
        "FROM shops WHERE id = $1",
        shop_id,
    )
    if row is None:
        return None
    members = await conn.fetch(
        "SELECT u.id AS user_id, u.email, m.role, u.password_hash IS NOT NULL AS has_password, "
        "u.is_platform_admin, u.disabled_at IS NOT NULL AS disabled "
        "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.shop_id = $1 "
        "ORDER BY m.role, u.email",
        shop_id,
    )
    states = await conn.fetch(
        "SELECT state, sum(n)::bigint AS n FROM document_counts WHERE shop_id = $1 GROUP BY state",
        shop_id,
    )
    recent = await conn.fetch(
        "SELECT created_at, level, kind, message, document_id FROM events "
        "WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        shop_id,
        events,
    )
    by_state = {r["state"]: r["n"] for r in states}
    return ShopDetail(
        **dict(row),
        members=[Member(**dict(m)) for m in members],
        documents={s: by_state.get(s, 0) for s in DOCUMENT_STATES},
        events=[ShopEvent(**dict(e)) for e in recent],
    )


@dataclass(frozen=True)
class IssuedLink:
    user: users.User
    purpose: users.TokenPurpose
    token: str
    expires_at: datetime


async def issue_link(
    pool: Pool, user_id: UUID, *, created_by: UUID, now: datetime
) -> IssuedLink | None:
    """A fresh link for the user: a password reset, or a new invite for someone who never
    chose a password. Earlier open links of the same kind stop working. None for no user."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT id, email, name, is_platform_admin, locale, password_hash FROM users "
            "WHERE id = $1 AND disabled_at IS NULL FOR UPDATE",
            user_id,
        )
        if row is None:
            return None
        user = users.User(**dict(row))
        purpose: users.TokenPurpose = "password_reset" if user.has_password else "invite"
        await conn.execute(
            "UPDATE user_tokens SET used_at = $3 "
            "WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
            user_id,
            purpose,
            now,
        )
        token = await users.issue_token(
            conn, user_id=user_id, purpose=purpose, created_by=created_by, now=now
        )
    ttl = users.INVITE_TTL if purpose == "invite" else users.RESET_TTL
    return IssuedLink(user=user, purpose=purpose, token=token, expires_at=now + ttl)
