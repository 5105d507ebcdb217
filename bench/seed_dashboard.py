"""Seeds a database for the dashboard benchmark (`bench.dashboard`): a platform a year into
production, with 10,000 shops and 1,000,000 orders, each with its invoice (or voucher).

    .venv/bin/python -m bench.seed_dashboard                       # gateway_bench_dashboard
    .venv/bin/python -m bench.seed_dashboard --fresh               # drop it and start over
    .venv/bin/python -m bench.seed_dashboard --shops 200 --documents 20000   # a small one

The database is created (from the server of `--database-url`) and migrated; an existing one
is refused unless it is empty, or `--fresh` drops it first. `gateway_dev` is refused unless
`--allow-dev`.

The shape, with the default sizes:
- Users: `OWNER_EMAIL` owns 150 shops, among them the three big ones; `ADMIN_EMAIL` is the
  platform admin; about 6,000 other owners (some with many shops) and 300 bookkeepers who
  view about a tenth of the shops. Every user's password is `PASSWORD`.
- 2,000 Dinero organisations: 5 % revoked (no shops, no tokens), 10 % `needs_reconnect`
  (broken between an hour and a month ago), a few failing or with an expired token, a few
  with a consent nearly a year old; the rest healthy. 80 % of the shops are connected, one to
  a dozen shops per organisation (a few agencies with dozens); the other 20 % are new shops
  that never connected, with a handful of parked documents each.
- Documents: the big shops have 10 %, 7 % and 5 % of them (healthy, `needs_reconnect` since
  three days, failing); connected shops have about 100 each (log-normal spread). Created
  over the shop's life (up to a year), interleaved across shops by time as ingest would
  write them, so one shop's rows are scattered over the table. Mostly `posted`; about 1 %
  `failed` (last 60 days), some `queued` (last day and last minutes), `waiting`, `cancelled`;
  `needs_reconnect` for everything since the connection broke.
- Events: one per failed or parked document and per document posted in the last 30 days,
  and one per broken or failing organisation.

Tokens and ingest secrets are real vault ciphertexts under the development key (the one
`GATEWAY_ENV=development` uses), bound to their rows, so the app can decrypt them. Users,
shops and connections go in with COPY; orders, documents and events with INSERT … SELECT
over generate_series, on the server. Ends with the document counts folded and VACUUM ANALYZE,
as the sweeper and autovacuum would have.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import asyncpg

from gateway.db import connect, create_pool
from gateway.migrate import migrate
from gateway.passwords import hash_password
from gateway.settings import DEV_TOKEN_KEY, DEV_TOKEN_KEY_ID, TokenKey
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tenants.outbox import counts
from tenants.shops import repository as shops

DEFAULT_URL: Final = "postgresql://postgres@127.0.0.1:5432/gateway_bench_dashboard"
OWNER_EMAIL: Final = "owner@bench.example"
ADMIN_EMAIL: Final = "admin@bench.example"
PASSWORD: Final = "bench-dashboard-password"  # a benchmark database's, nothing else's

_REFUSED: Final = frozenset({"postgres", "template0", "template1"})
_BIG_SHARES: Final = (0.10, 0.07, 0.05)  # of all documents, for the three big shops
_OWNER_SHOPS: Final = 150
_YEAR: Final = timedelta(days=365)

_WORDS: Final = ("Nordlys", "Havtorn", "Skovmus", "Fjord", "Kobber", "Lyng", "Birk", "Ravn")
_GOODS: Final = ("Design", "Keramik", "Kaffe", "Cykler", "Toej", "Boeger", "Sko", "Vin", "Garn")


@dataclass
class Org:
    id: UUID
    organization_id: int
    name: str
    status: str = "active"
    connected_at: datetime | None = None
    broken_at: datetime | None = None  # when it went needs_reconnect
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass
class ShopPlan:
    id: UUID
    name: str
    slug: str
    created_at: datetime
    org: Org | None
    documents: int = 0
    kind: str = "invoice"
    mode: str = "booked"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


# --- the plan, made in Python ----------------------------------------------------------------


def plan_orgs(rng: random.Random, count: int, now: datetime) -> list[Org]:
    """Organisations with their health; the first three are the big shops' (healthy,
    needs_reconnect since three days, failing)."""
    orgs = []
    for n in range(count):
        org = Org(uuid4(), 100_000 + n, f"{rng.choice(_WORDS)} {rng.choice(_GOODS)} ApS")
        # The latest grant: a reconnect renews it, so it can be younger than the shop.
        org.connected_at = now - timedelta(days=rng.uniform(2, 340))
        ordinary = n > 2
        roll = rng.random()
        if n == 1 or (ordinary and roll < 0.10):
            org.status = "needs_reconnect"
            hours = 72 if n == 1 else rng.uniform(1, 720)
            org.broken_at = now - timedelta(hours=hours)
        elif ordinary and roll < 0.15:
            org.status = "revoked"
        failing = n == 2 or (ordinary and rng.random() < 0.04)
        org.columns = _org_columns(rng, org, now, failing=failing, ordinary=ordinary)
        orgs.append(org)
    return orgs


def _org_columns(
    rng: random.Random, org: Org, now: datetime, *, failing: bool, ordinary: bool
) -> dict[str, Any]:
    assert org.connected_at is not None
    refreshed = now - timedelta(hours=rng.uniform(0, 19))
    expires = now + timedelta(minutes=rng.uniform(15, 60))
    columns: dict[str, Any] = {
        "access_expires_at": expires,
        "last_refresh_at": refreshed,
        "next_refresh_at": expires - connections.REFRESH_AHEAD,
        "consecutive_failures": 0,
        "last_error": None,
        "last_error_at": None,
    }
    if org.status == "revoked":
        columns.update(access_expires_at=None, next_refresh_at=None)
    elif org.status == "needs_reconnect":
        assert org.broken_at is not None
        columns.update(
            access_expires_at=org.broken_at + timedelta(minutes=30),
            last_refresh_at=org.broken_at - timedelta(hours=2),
            next_refresh_at=None,
            last_error="Visma Connect refused to renew the grant (invalid_grant)",
            last_error_at=org.broken_at,
        )
    elif failing:
        failures = rng.randint(1, 6)
        expired = rng.random() < 0.4  # renewal has failed past the token's expiry
        columns.update(
            access_expires_at=now - timedelta(minutes=rng.uniform(5, 90)) if expired else expires,
            last_refresh_at=now - timedelta(hours=rng.uniform(1, 30)),
            next_refresh_at=now + timedelta(minutes=rng.uniform(1, 30)),
            consecutive_failures=failures,
            last_error="Visma Connect answered 503",
            last_error_at=now - timedelta(minutes=rng.uniform(1, 60)),
        )
    elif ordinary and rng.random() < 0.03:
        org.connected_at = now - timedelta(days=rng.uniform(358, 364))  # consent nearly a year
    return columns


def plan_shops(
    rng: random.Random, count: int, documents: int, orgs: Sequence[Org], now: datetime
) -> list[ShopPlan]:
    live = [o for o in orgs if o.status != "revoked"]
    connected = round(count * 0.8)
    big = min(len(_BIG_SHARES), len(live))
    # Every live organisation gets one shop; the rest go by a log-normal weight, so most
    # have a few and an agency here and there has dozens.
    weights = [rng.lognormvariate(0, 1.0) for _ in live]
    extra = rng.choices(live, weights=weights, k=max(0, connected - big - len(live)))
    chosen = iter([*live[:big], *live, *extra])
    plans: list[ShopPlan] = []
    for n in range(count):
        name = f"{rng.choice(_WORDS)} {rng.choice(_GOODS)}"
        org = next(chosen, None) if n < connected else None
        if n < big:
            created = now - _YEAR
        elif org is not None:
            created = now - timedelta(days=rng.uniform(20, 365))
        else:
            created = now - timedelta(days=rng.uniform(0, 30))  # new, never connected
        plan = ShopPlan(uuid4(), name, f"{shops.slugify(name)}-{n + 1}", created, org)
        plan.kind = "voucher" if rng.random() < 0.1 else "invoice"
        plan.mode = "draft" if rng.random() < 0.05 else "booked"
        plans.append(plan)
    _share_documents(rng, plans, documents)
    return plans


def _share_documents(rng: random.Random, plans: list[ShopPlan], total: int) -> None:
    big = plans[: len(_BIG_SHARES)]
    for plan, share in zip(big, _BIG_SHARES, strict=False):
        plan.documents = round(total * share)
    never_connected = [p for p in plans if p.org is None]
    for plan in never_connected:
        plan.documents = min(rng.randint(0, 20), max(0, total // len(plans) // 4))
    rest = [p for p in plans[len(big) :] if p.org is not None]
    left = total - sum(p.documents for p in plans)
    weights = [rng.lognormvariate(0, 0.7) for _ in rest]
    scale = left / sum(weights) if weights else 0
    for plan, weight in zip(rest, weights, strict=True):
        plan.documents = math.floor(weight * scale)
    if rest:
        rest[0].documents += total - sum(p.documents for p in plans)


@dataclass
class People:
    users: list[tuple[UUID, str, str, bool, datetime]]  # id, email, hash, admin, created
    memberships: list[tuple[UUID, UUID, str, datetime]]  # user, shop, role, created
    owner_id: UUID


def plan_people(rng: random.Random, plans: Sequence[ShopPlan], password_hash: str) -> People:
    start = min(p.created_at for p in plans) - timedelta(days=1)
    owner_id, admin_id = uuid4(), uuid4()
    users = [
        (owner_id, OWNER_EMAIL, password_hash, False, start),
        (admin_id, ADMIN_EMAIL, password_hash, True, start),
    ]
    memberships = []
    connected_rest = [p for p in plans[len(_BIG_SHARES) :] if p.org is not None]
    owned = {p.id for p in plans[: len(_BIG_SHARES)]}
    owned |= {p.id for p in rng.sample(connected_rest, min(_OWNER_SHOPS, len(connected_rest)))}
    others: dict[int, UUID] = {}
    pool_size = max(1, round(len(plans) * 0.75))
    for plan in plans:
        if plan.id in owned:
            memberships.append((owner_id, plan.id, "owner", plan.created_at))
            continue
        k = int(pool_size * rng.random() ** 1.5)  # most own one shop, a few own dozens
        if k not in others:
            others[k] = uuid4()
            users.append((others[k], f"owner{k}@shop{k}.example", password_hash, False, start))
        memberships.append((others[k], plan.id, "owner", plan.created_at))
    bookkeepers = [uuid4() for _ in range(max(1, len(plans) // 33))]
    for n, user_id in enumerate(bookkeepers):
        users.append((user_id, f"bookkeeper{n}@books.example", password_hash, False, start))
    for plan in plans:
        if rng.random() < 0.1:
            bookkeeper = rng.choice(bookkeepers)
            joined = plan.created_at + timedelta(days=1)
            memberships.append((bookkeeper, plan.id, "bookkeeper", joined))
    return People(users, memberships, owner_id)


# --- loading -----------------------------------------------------------------------------------


async def load_people_shops_orgs(
    conn: asyncpg.Connection[asyncpg.Record],
    vault: Vault,
    orgs: Sequence[Org],
    plans: Sequence[ShopPlan],
    people: People,
    now: datetime,
) -> int:
    await conn.copy_records_to_table(
        "users",
        records=people.users,
        columns=["id", "email", "password_hash", "is_platform_admin", "created_at"],
    )
    org_rows = []
    for org in orgs:
        c = org.columns
        tokens = (
            (None, None)
            if org.status == "revoked"
            else (
                vault.encrypt(f"bench-access-{org.id}", aad=connections.access_aad(org.id)),
                vault.encrypt(f"bench-refresh-{org.id}", aad=connections.refresh_aad(org.id)),
            )
        )
        org_rows.append(
            (
                org.id,
                org.organization_id,
                org.name,
                org.status,
                *tokens,
                c["access_expires_at"],
                org.connected_at,
                c["last_refresh_at"],
                c["next_refresh_at"],
                c["last_error"],
                c["last_error_at"],
                c["consecutive_failures"],
                org.connected_at,
                c["last_error_at"] or c["last_refresh_at"],
            )
        )
    await conn.copy_records_to_table(
        "dinero_connections",
        records=org_rows,
        columns=[
            "id",
            "organization_id",
            "organization_name",
            "status",
            "access_token_enc",
            "refresh_token_enc",
            "access_expires_at",
            "connected_at",
            "last_refresh_at",
            "next_refresh_at",
            "last_error",
            "last_error_at",
            "consecutive_failures",
            "created_at",
            "updated_at",
        ],
    )
    shop_rows = [
        (
            p.id,
            p.name,
            p.slug,
            p.org.id if p.org else None,
            p.mode,
            p.kind,
            vault.encrypt(shops.new_ingest_secret(), aad=shops.ingest_secret_aad(p.id)),
            p.created_at,
            p.created_at + timedelta(days=1) if p.org else None,
            p.created_at,
            p.created_at,
        )
        for p in plans
    ]
    await conn.copy_records_to_table(
        "shops",
        records=shop_rows,
        columns=[
            "id",
            "name",
            "slug",
            "connection_id",
            "mode",
            "document_kind",
            "ingest_secret_enc",
            "ingest_secret_rolled_at",
            "activated_at",
            "created_at",
            "updated_at",
        ],
    )
    await conn.copy_records_to_table(
        "memberships",
        records=people.memberships,
        columns=["user_id", "shop_id", "role", "created_at"],
    )
    return len(people.users) + len(org_rows) + len(shop_rows) + len(people.memberships)


async def load_plan_table(
    conn: asyncpg.Connection[asyncpg.Record], plans: Sequence[ShopPlan]
) -> None:
    await conn.execute(
        "CREATE TEMP TABLE seed_plan (shop_id uuid PRIMARY KEY, documents integer NOT NULL, "
        "since timestamptz NOT NULL, organization_id bigint, broken_at timestamptz, "
        "kind text NOT NULL, mode text NOT NULL)"
    )
    await conn.copy_records_to_table(
        "seed_plan",
        records=[
            (
                p.id,
                p.documents,
                p.created_at,
                p.org.organization_id if p.org else None,
                p.org.broken_at if p.org else None,
                p.kind,
                p.mode,
            )
            for p in plans
            if p.documents > 0
        ],
    )
    await conn.execute("ANALYZE seed_plan")


# Orders numbered in time order across all shops, as ingest would have stored them.
# $1 = now.
_ORDERS: Final = """
INSERT INTO orders (id, shop_id, external_id, number, currency, total, payload, ordered_at,
                    paid_at, last_event_at, received_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY g.at, g.shop_id, g.n), g.shop_id, g.external_id, g.number,
       'DKK', g.total,
       jsonb_build_object(
           'id', g.external_id, 'number', g.number, 'created_at', g.at, 'currency', 'DKK',
           'prices_include_vat', true,
           'customer', jsonb_build_object(
               'name', g.first || ' ' || g.last, 'email', lower(g.first) || g.n || '@example.dk',
               'phone', NULL, 'company', NULL, 'vat_number', NULL, 'ean', NULL,
               'address', jsonb_build_object('street', 'Algade ' || (g.n % 90 + 1),
                   'zip', (1000 + g.n % 8000)::text, 'city', 'Aarhus', 'country', 'DK')),
           'lines', jsonb_build_array(jsonb_build_object(
               'sku', 'SKU-' || (g.n % 500), 'name', 'Vare ' || (g.n % 500), 'quantity', '1',
               'unit_price', (g.total - 49)::text, 'vat_rate', '0.25', 'discount', '0.00',
               'kind', 'goods')),
           'shipping', jsonb_build_object('name', 'GLS', 'price', '49.00', 'vat_rate', '0.25'),
           'fees', '[]'::jsonb, 'discounts', '[]'::jsonb, 'total', g.total::text,
           'paid_at', g.at, 'shipped_at', NULL,
           'payment', jsonb_build_object('method', 'card', 'amount', g.total::text,
               'paid_at', g.at, 'reference', 'pay-' || g.external_id),
           'invoice', NULL),
       g.at, g.at, g.at, g.at + interval '1 second', g.at + interval '1 second'
FROM (
    SELECT p.shop_id, n, (5000000 + n)::text AS external_id, (1001 + n)::text AS number,
           p.since + ($1::timestamptz - p.since) * ((n + random()) / p.documents) AS at,
           round((99 + random() * 1900)::numeric, 2) AS total,
           (ARRAY['Anna','Mads','Sofie','Lars','Ida','Jens','Freja','Ole','Emma','Karl'])
               [1 + floor(random() * 10)::int] AS first,
           (ARRAY['Hansen','Jensen','Nielsen','Pedersen','Larsen','Andersen','Holm'])
               [1 + floor(random() * 7)::int] AS last
    FROM seed_plan p, generate_series(0, p.documents - 1) AS n
) g
ORDER BY 1
"""

# One invoice (or voucher) per order, its state following the shop's connection. $1 = now.
_DOCUMENTS: Final = """
INSERT INTO documents (id, shop_id, order_id, kind, organization_id, state, step, mode,
                       payload, currency, amount, client_guid, backend_id,
                       external_reference, backend_number, backend_status, attempts, failures,
                       next_attempt_at, last_error, last_error_code, created_at, updated_at,
                       posted_at)
OVERRIDING SYSTEM VALUE
SELECT d.id, d.shop_id, d.id, d.kind,
       CASE WHEN d.state IN ('posted', 'failed')
            OR (d.state = 'needs_reconnect' AND d.organization_id IS NOT NULL)
            THEN d.organization_id END,
       d.state,
       CASE WHEN d.state <> 'posted' THEN 'new' WHEN d.mode = 'draft' THEN 'created'
            ELSE 'booked' END,
       d.mode,
       jsonb_build_object('ExternalReference', d.reference, 'Currency', 'DKK',
           'Language', 'da-DK', 'ProductLines', jsonb_build_array(jsonb_build_object(
               'Description', 'Order ' || d.number, 'Quantity', 1, 'AccountNumber', 1000,
               'BaseAmountValue', d.total, 'Unit', 'parts'))),
       'DKK', d.total, d.guid,
       CASE WHEN d.state = 'posted' THEN d.guid END,
       d.reference,
       CASE WHEN d.state = 'posted' AND d.mode = 'booked' THEN d.id END,
       CASE WHEN d.state = 'posted' THEN
            CASE WHEN d.mode = 'draft' THEN 'Draft' ELSE 'Booked' END END,
       CASE WHEN d.state IN ('posted', 'failed', 'queued') THEN 1 ELSE 0 END,
       CASE WHEN d.state = 'failed' THEN 1 ELSE 0 END,
       CASE WHEN d.state = 'queued' THEN $1::timestamptz + interval '30 seconds' ELSE d.at END,
       CASE d.state
            WHEN 'failed' THEN 'Dinero answered 400: the account 1000 does not exist'
            WHEN 'needs_reconnect' THEN 'The shop is not connected to Dinero' END,
       CASE d.state WHEN 'failed' THEN 'validation'
            WHEN 'needs_reconnect' THEN 'needs_reconnect' END,
       d.at,
       CASE WHEN d.state = 'posted' THEN d.at + interval '3 seconds'
            WHEN d.state = 'failed' THEN d.at + interval '4 seconds'
            WHEN d.state = 'needs_reconnect' THEN greatest(d.at, d.broken_at)
            ELSE d.at END,
       CASE WHEN d.state = 'posted' THEN d.at + interval '3 seconds' END
FROM (
    SELECT o.id, o.shop_id, o.number, o.total, o.at, o.kind, o.mode, o.organization_id,
           o.broken_at,
           md5(o.shop_id::text || ':' || o.external_id || ':' || o.kind || ':0')::uuid AS guid,
           'dg-' || left(replace(o.shop_id::text, '-', ''), 12) || '-'
               || CASE o.kind WHEN 'voucher' THEN 'vou' ELSE 'inv' END || '-' || o.external_id
               AS reference,
           CASE
               WHEN o.organization_id IS NULL THEN 'needs_reconnect'
               WHEN o.at > o.broken_at THEN 'needs_reconnect'
               WHEN o.at > $1::timestamptz - interval '2 minutes' THEN 'queued'
               WHEN o.r < 0.003 AND o.at > $1::timestamptz - interval '1 day' THEN 'queued'
               WHEN o.r < 0.013 AND o.at > $1::timestamptz - interval '60 days' THEN 'failed'
               WHEN o.r < 0.018 THEN 'cancelled'
               WHEN o.r < 0.020 AND o.at > $1::timestamptz - interval '7 days' THEN 'waiting'
               ELSE 'posted'
           END AS state
    FROM (
        -- random() here, a level below its use: each row draws its own.
        SELECT o.id, o.shop_id, o.number, o.total, o.external_id,
               o.received_at + interval '50 ms' AS at, p.kind, p.mode, p.organization_id,
               p.broken_at, random() AS r
        FROM orders o JOIN seed_plan p USING (shop_id)
    ) o
) d
ORDER BY d.id
"""

_EVENTS: Final = """
INSERT INTO events (shop_id, document_id, kind, level, message, data, created_at)
SELECT shop_id, id, 'document.' || state,
       CASE state WHEN 'posted' THEN 'info' WHEN 'failed' THEN 'error' ELSE 'warning' END,
       CASE state WHEN 'posted' THEN 'Booked in Dinero as invoice ' || coalesce(backend_number, 0)
                  ELSE last_error END,
       jsonb_build_object('document_id', id), updated_at
FROM documents
WHERE state IN ('failed', 'needs_reconnect')
   OR (state = 'posted' AND created_at > $1::timestamptz - interval '30 days')
ORDER BY updated_at
"""

_CONNECTION_EVENTS: Final = """
INSERT INTO events (connection_id, kind, level, message, created_at)
SELECT id, CASE status WHEN 'needs_reconnect' THEN 'connection.needs_reconnect'
                       ELSE 'connection.refresh_failed' END,
       CASE status WHEN 'needs_reconnect' THEN 'error' ELSE 'warning' END,
       last_error, last_error_at
FROM dinero_connections WHERE last_error_at IS NOT NULL
"""


async def seed(url: str, *, shop_count: int, document_count: int, seed_value: int) -> None:
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    vault = Vault((TokenKey(DEV_TOKEN_KEY_ID, DEV_TOKEN_KEY),))
    started = time.perf_counter()
    orgs = plan_orgs(rng, max(3, shop_count // 5), now)
    plans = plan_shops(rng, shop_count, document_count, orgs, now)
    people = plan_people(rng, plans, hash_password(PASSWORD))
    print(f"planned in {time.perf_counter() - started:.1f} s")

    conn = await connect(url, application_name="bench-seed")
    try:
        # Not synchronous_commit = off: VACUUM marks a page all-visible only once the
        # inserting transaction's commit is flushed, and the index-only scans the
        # benchmark is about depend on that.
        await conn.execute("SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'")
        async with conn.transaction():
            rows = await _step(
                "users, organisations, shops, memberships",
                load_people_shops_orgs(conn, vault, orgs, plans, people, now),
            )
            await load_plan_table(conn, plans)
            rows += await _step("orders", _rows(conn.execute(_ORDERS, now)))
            rows += await _step("documents", _rows(conn.execute(_DOCUMENTS, now)))
            rows += await _step("document events", _rows(conn.execute(_EVENTS, now)))
            rows += await _step("connection events", _rows(conn.execute(_CONNECTION_EVENTS)))
            for table in ("orders", "documents"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        await _step("document counts folded", _fold_counts(url))
        await _step("VACUUM ANALYZE", _no_rows(conn.execute("VACUUM ANALYZE")))
        await _summary(conn)
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    print(f"seeded {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s overall)")


async def _rows(status: Awaitable[str]) -> int:
    return int((await status).split()[-1])


async def _fold_counts(url: str) -> int:
    """The document counts' pending changes, folded as the sweeper would have."""
    pool = await create_pool(url, application_name="bench-seed")
    try:
        await counts.fold(pool)
    finally:
        await pool.close()
    return 0


async def _no_rows(status: Awaitable[str]) -> int:
    await status
    return 0


async def _step(name: str, work: Awaitable[int]) -> int:
    started = time.perf_counter()
    rows = await work
    seconds = time.perf_counter() - started
    counted = f"{rows:,} rows in {seconds:.1f} s, {rows / seconds:,.0f} rows/s" if rows else ""
    print(f"  {name}: {counted or f'{seconds:.1f} s'}", flush=True)
    return rows


async def _summary(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    states = await conn.fetch("SELECT state, count(*) AS n FROM documents GROUP BY 1 ORDER BY 2")
    statuses = await conn.fetch(
        "SELECT status, count(*) AS n FROM dinero_connections GROUP BY 1 ORDER BY 2"
    )
    big = await conn.fetch(
        "SELECT s.slug, count(*) AS n FROM documents d JOIN shops s ON s.id = d.shop_id "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
    )
    size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    print("documents by state: " + ", ".join(f"{r['state']} {r['n']:,}" for r in states))
    print("connections by status: " + ", ".join(f"{r['status']} {r['n']:,}" for r in statuses))
    print("biggest shops: " + ", ".join(f"{r['slug']} {r['n']:,}" for r in big))
    print(f"database size {size}; log in as {OWNER_EMAIL} or {ADMIN_EMAIL}, password {PASSWORD}")


async def prepare_database(url: str, *, fresh: bool) -> None:
    """Creates (with `fresh`: drops and re-creates) the database and migrates it; refuses
    one that already holds shops."""
    name = _database_name(url)
    server = await connect(_with_database(url, "postgres"), application_name="bench-seed")
    try:
        exists = await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and fresh:
            await server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or fresh:
            await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    await migrate(url)
    conn = await connect(url, application_name="bench-seed")
    try:
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM shops)"):
            raise SystemExit(f"{name} already holds shops: pass --fresh to drop and re-seed it")
    finally:
        await conn.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--shops", type=int, default=10_000)
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    parser.add_argument("--allow-dev", action="store_true", help="allow gateway_dev")
    parser.add_argument("--seed", type=int, default=6, help="for the random plan")
    args = parser.parse_args()
    name = _database_name(args.database_url)
    if not name or name in _REFUSED:
        parser.error(f"refusing to seed the database {name!r}")
    if name == "gateway_dev" and not args.allow_dev:
        parser.error("refusing gateway_dev without --allow-dev")
    if args.shops < 10:
        parser.error("--shops must be at least 10")
    return args


async def main(args: argparse.Namespace) -> None:
    await prepare_database(args.database_url, fresh=args.fresh)
    await seed(
        args.database_url,
        shop_count=args.shops,
        document_count=args.documents,
        seed_value=args.seed,
    )


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
