"""What the owner's pages ask about one shop, and the few things they change. All of their
SQL is here, and every query takes the shop (or, for the shop list, the user) it is about.

The pages must stay fast for a shop with a million documents, so every question is one
index range: documents by shop and time (`documents_shop_created_idx`) or by shop, state
and time (`documents_shop_state_idx`), orders by shop and number (`orders_shop_number_idx`),
events by shop and time (`events_shop_idx`) or by document. Counts that could run into
the millions are counted only up to `COUNT_CAP`: "1000+" says all an owner needs, and a
page that polls every few seconds must not count a backlog row by row.

Lists are paged by keyset (a document id as the cursor, `(created_at, id)` as the order),
not by offset: the hundredth page costs what the first does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, get_args
from uuid import UUID

import asyncpg

from gateway.db import Connection, Pool
from gateway.orders import parse_event
from tenants.orders import ingest as orders

COUNT_CAP: Final = 1000
PAGE_SIZE: Final = 50
TIMELINE_LIMIT: Final = 200
RECENT: Final = timedelta(hours=24)
TEST_ORDER_EVENT: Final = "shop.test_order"

State = Literal["waiting", "queued", "needs_reconnect", "failed", "posted", "cancelled"]
STATES: Final[tuple[State, ...]] = get_args(State)


def _capped(condition: str) -> str:
    """A count of the documents matching `condition` (over `d`), stopping at COUNT_CAP."""
    return (
        f"(SELECT count(*) FROM (SELECT 1 FROM documents d WHERE {condition} "  # noqa: S608
        f"LIMIT {COUNT_CAP}) AS capped)"
    )


# --- the shop list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopBadge:
    id: UUID
    name: str
    activated_at: datetime | None
    connection_status: str | None
    organization_name: str | None
    failed_documents: int  # up to COUNT_CAP
    parked_documents: int  # up to COUNT_CAP

    @property
    def badge(self) -> str:
        """The one thing the owner should know first: a lost connection, then failures."""
        if self.connection_status is None or self.connection_status == "revoked":
            return "not_connected"
        if self.connection_status == "needs_reconnect":
            return "needs_reconnect"
        if self.failed_documents:
            return "failing"
        return "connected"


async def shops_for_user(conn: Connection | Pool, user_id: UUID) -> list[ShopBadge]:
    """Every shop the user is a member of, with what its badge needs, in one query."""
    rows = await conn.fetch(
        f"""
        SELECT s.id, s.name, s.activated_at, c.status AS connection_status,
               c.organization_name,
               {_capped("d.shop_id = s.id AND d.state = 'failed'")} AS failed_documents,
               {_capped("d.shop_id = s.id AND d.state = 'needs_reconnect'")} AS parked_documents
        FROM memberships m JOIN shops s ON s.id = m.shop_id
        LEFT JOIN dinero_connections c ON c.id = s.connection_id
        WHERE m.user_id = $1
        ORDER BY s.name, s.id
        """,  # noqa: S608 - constant fragments only
        user_id,
    )
    return [ShopBadge(**dict(row)) for row in rows]


# --- the shop page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    queued: int  # now, up to COUNT_CAP (waiting for a parent included)
    failed: int  # now, up to COUNT_CAP
    parked: int  # now, up to COUNT_CAP
    posted_recently: int  # within RECENT, up to COUNT_CAP
    last_posted_at: datetime | None


async def health(conn: Connection | Pool, shop_id: UUID, *, now: datetime) -> Health:
    """The shop's documents at a glance. "Posted in the last 24 hours" counts `posted`
    events, which have an index by shop and time; `documents.posted_at` has none."""
    row = await conn.fetchrow(
        f"""
        SELECT {_capped("d.shop_id = $1 AND d.state IN ('queued', 'waiting')")} AS queued,
               {_capped("d.shop_id = $1 AND d.state = 'failed'")} AS failed,
               {_capped("d.shop_id = $1 AND d.state = 'needs_reconnect'")} AS parked,
               (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.shop_id = $1
                    AND e.created_at > $2 AND e.kind = 'document.posted'
                    ORDER BY e.created_at DESC LIMIT {COUNT_CAP}) AS capped) AS posted_recently,
               (SELECT e.created_at FROM events e WHERE e.shop_id = $1
                    AND e.kind = 'document.posted'
                    ORDER BY e.created_at DESC LIMIT 1) AS last_posted_at
        """,  # noqa: S608 - constant fragments only
        shop_id,
        now - RECENT,
    )
    assert row is not None
    return Health(**dict(row))


@dataclass(frozen=True)
class TestOrder:
    document_id: int
    order_number: str
    state: str
    dinero_number: int | None
    sent_at: datetime


@dataclass(frozen=True)
class Setup:
    """Where the owner is in the set-up guide: connect, send a test order, activate."""

    activated_at: datetime | None
    test_order: TestOrder | None  # the latest one


async def setup(conn: Connection | Pool, shop_id: UUID) -> Setup:
    """The guide's state. Its test order is only looked for while the guide is shown
    (before activation): the search walks the shop's events back to the latest one."""
    row = await conn.fetchrow(
        """
        SELECT s.activated_at, t.document_id, t.order_number, t.state, t.dinero_number,
               t.sent_at
        FROM shops s LEFT JOIN LATERAL (
            SELECT d.id AS document_id, o.number AS order_number, d.state, d.dinero_number,
                   e.created_at AS sent_at
            FROM events e
            JOIN documents d ON d.id = e.document_id AND d.shop_id = e.shop_id
            JOIN orders o ON o.id = d.order_id AND o.shop_id = d.shop_id
            WHERE e.shop_id = s.id AND e.kind = $2 AND s.activated_at IS NULL
            ORDER BY e.created_at DESC, e.id DESC LIMIT 1
        ) t ON true
        WHERE s.id = $1
        """,
        shop_id,
        TEST_ORDER_EVENT,
    )
    if row is None:
        return Setup(activated_at=None, test_order=None)
    test = None
    if row["document_id"] is not None:
        test = TestOrder(
            document_id=row["document_id"],
            order_number=row["order_number"],
            state=row["state"],
            dinero_number=row["dinero_number"],
            sent_at=row["sent_at"],
        )
    return Setup(activated_at=row["activated_at"], test_order=test)


async def activate(conn: Connection | Pool, shop_id: UUID, *, now: datetime) -> bool:
    """Marks the shop as live (once). False when it already was."""
    activated = await conn.fetchval(
        "UPDATE shops SET activated_at = $2, updated_at = $2 "
        "WHERE id = $1 AND activated_at IS NULL RETURNING true",
        shop_id,
        now,
    )
    if activated:
        await conn.execute(
            "INSERT INTO events (shop_id, kind, message, created_at) "
            "VALUES ($1, 'shop.activated', 'The shop went live', $2)",
            shop_id,
            now,
        )
    return bool(activated)


# --- the test order ----------------------------------------------------------------------------


def sample_order(*, external_id: str, number: str, now: datetime, language: str) -> dict[str, Any]:
    """A small, valid, clearly marked order in the ingest format (one 25 % item, paid)."""
    danish = language == "da-DK"
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "id": external_id,
        "number": number,
        "created_at": stamp,
        "currency": "DKK",
        "prices_include_vat": True,
        "customer": {
            "name": "Testkunde (Dinero Gateway)" if danish else "Test customer (Dinero Gateway)",
            "email": None,
            "phone": None,
            "company": None,
            "vat_number": None,
            "ean": None,
            "address": {"street": "Testvej 1", "zip": "8000", "city": "Aarhus C", "country": "DK"},
        },
        "lines": [
            {
                "sku": "TEST",
                "name": "Testvare – kan slettes" if danish else "Test item – safe to delete",
                "quantity": "1",
                "unit_price": "100.00",
                "vat_rate": "0.25",
                "discount": "0.00",
                "kind": "goods",
            }
        ],
        "shipping": None,
        "fees": [],
        "discounts": [],
        "total": "100.00",
        "paid_at": stamp,
        "shipped_at": None,
    }


@dataclass(frozen=True)
class SentTestOrder:
    document_id: int
    order_number: str
    enqueue: tuple[int, ...]  # enqueue once this has returned (the transaction is committed)


async def send_test_order(pool: Pool, shop_id: UUID, *, now: datetime) -> SentTestOrder:
    """Records a sample order for the shop the way ingest records a real one, with an
    invoice that is left as a draft in Dinero whatever the shop's mode and trigger, so the
    owner can see the whole way through before going live. Its ids start with `test-`."""
    suffix = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    async with pool.acquire() as conn, conn.transaction():
        language = await conn.fetchval("SELECT language FROM shops WHERE id = $1", shop_id)
        if language is None:
            raise LookupError(f"no shop {shop_id}")
        body = {
            "id": f"test-{suffix}",
            "type": "order.created",
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "order": sample_order(
                external_id=f"test-{suffix}", number=f"TEST-{suffix}", now=now, language=language
            ),
            "refund": None,
        }
        event = parse_event(body)
        # As ingest would for this shop, but "created" and "draft": a test posts at once,
        # and never as a booked invoice.
        shop = orders.IngestShop(
            id=shop_id, trigger="created", mode="draft", document_kind="invoice", secrets=()
        )
        raw = json.dumps(body, sort_keys=True).encode()
        recorded = await orders.record_event(
            conn, shop, event, body_sha256=hashlib.sha256(raw).digest()
        )
        document_id: int = recorded.receipt["documents"][0]["id"]
        await conn.execute(
            "INSERT INTO events (shop_id, document_id, kind, message, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            shop_id,
            document_id,
            TEST_ORDER_EVENT,
            f"Test order {event.order.number} sent; its invoice will be left as a draft",
            now,
        )
    return SentTestOrder(document_id, event.order.number, recorded.enqueue)


# --- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentRow:
    id: int
    kind: str
    state: str
    mode: str
    currency: str
    amount: Decimal
    dinero_number: int | None
    last_error: str | None
    created_at: datetime
    order_number: str
    order_external_id: str
    # Dinero's payment status (`Registered` until confirmed, then Paid, OverPaid, or Booked
    # for partly paid): a payment's own, an invoice's or credit note's from its payment.
    payment_status: str | None


@dataclass(frozen=True)
class DocumentPage:
    items: list[DocumentRow]
    newer: int | None  # the cursor for the page before (`after`), if there is one
    older: int | None  # the cursor for the page after (`before`), if there is one


_ROW_COLUMNS: Final = (
    "d.id, d.kind, d.state, d.mode, d.currency, d.amount, d.dinero_number, d.last_error, "
    "d.created_at, o.number AS order_number, o.external_id AS order_external_id, "
    "CASE WHEN d.kind = 'payment' THEN d.dinero_status "
    "WHEN d.kind IN ('invoice', 'credit_note') THEN "
    "(SELECT p.dinero_status FROM documents p WHERE p.parent_id = d.id "
    "AND p.shop_id = d.shop_id AND p.kind = 'payment' AND p.state <> 'cancelled' LIMIT 1) "
    "END AS payment_status"
)
# Each listed document's order, looked up by its key. LATERAL with LIMIT 1 (which keeps
# Postgres from flattening it into a plain join) forces one index lookup per listed row: as
# a plain join, the generic plan of this prepared statement read all of a big shop's
# orders to list fifty documents (measured: 1.1 s at 100,000 orders, against 1 ms).
_ORDER_OF_ROW: Final = (
    "CROSS JOIN LATERAL (SELECT number, external_id FROM orders "
    "WHERE id = d.order_id AND shop_id = d.shop_id LIMIT 1) AS o"
)


async def documents_page(
    conn: Connection | Pool,
    shop_id: UUID,
    *,
    state: State | None = None,
    search: str = "",
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> DocumentPage:
    """Newest first; narrowed to one state and to the orders whose number or id is exactly
    `search`; the page older than document `before`, or newer than document `after`.

    The SQL is put together from constant fragments rather than `$n IS NULL OR ...`, so
    each variant gets a plan that uses its index (a generic plan for the catch-all form
    could not)."""
    conditions = ["d.shop_id = $1"]
    args: list[Any] = [shop_id]
    if state is not None:
        args.append(state)
        conditions.append(f"d.state = ${len(args)}")
    if search:
        args.append(search)
        conditions.append(
            f"d.order_id IN (SELECT id FROM orders WHERE shop_id = $1 "  # noqa: S608
            f"AND (number = ${len(args)} OR external_id = ${len(args)}))"
        )
    cursor = before if before is not None else after
    newest_first = after is None
    if cursor is not None:
        args.append(cursor)
        compare = "<" if newest_first else ">"
        conditions.append(
            f"(d.created_at, d.id) {compare} "  # noqa: S608 - a constant operator
            f"(SELECT created_at, id FROM documents WHERE id = ${len(args)} AND shop_id = $1)"
        )
    order = "DESC" if newest_first else "ASC"
    args.append(size + 1)
    rows = await conn.fetch(
        f"""
        SELECT {_ROW_COLUMNS}
        FROM documents d {_ORDER_OF_ROW}
        WHERE {" AND ".join(conditions)}
        ORDER BY d.created_at {order}, d.id {order}
        LIMIT ${len(args)}
        """,  # noqa: S608 - constant fragments; every value is a $n parameter
        *args,
    )
    items = [DocumentRow(**dict(row)) for row in rows[:size]]
    more = len(rows) > size
    if not newest_first:
        items.reverse()
    if not items:
        return DocumentPage(items=[], newer=None, older=None)
    # Coming from a neighbouring page means that page exists; "more" tells about the other.
    has_newer = more if not newest_first else before is not None
    has_older = more if newest_first else True
    return DocumentPage(
        items=items,
        newer=items[0].id if has_newer else None,
        older=items[-1].id if has_older else None,
    )


async def state_counts(conn: Connection | Pool, shop_id: UUID) -> dict[State, int]:
    """How many documents are in each state, each counted up to COUNT_CAP."""
    rows = await conn.fetch(
        f"""
        SELECT s.state, {_capped("d.shop_id = $1 AND d.state = s.state")} AS n
        FROM unnest($2::text[]) AS s(state)
        """,  # noqa: S608 - constant fragments only
        shop_id,
        list(STATES),
    )
    counts = {row["state"]: row["n"] for row in rows}
    return {state: counts.get(state, 0) for state in STATES}


@dataclass(frozen=True)
class Related:
    id: int
    kind: str
    state: str
    dinero_number: int | None
    dinero_status: str | None
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class TimelineEvent:
    created_at: datetime
    kind: str
    level: str
    message: str


@dataclass(frozen=True)
class DocumentDetail:
    id: int
    kind: str
    seq: int
    state: str
    step: str
    mode: str
    currency: str
    amount: Decimal
    client_guid: UUID
    dinero_guid: UUID | None
    dinero_number: int | None
    dinero_status: str | None
    external_reference: str
    attempts: int
    failures: int
    uncertain: bool
    next_attempt_at: datetime
    last_error: str | None
    last_error_code: str | None
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None
    # Settlement: a payment's deposit account, or the account a voucher is balanced
    # against; a voucher's attachment in Dinero; a payment's method from the order.
    settlement_account: int | None
    file_guid: str | None
    file_name: str | None
    payment_method: str | None
    order_number: str
    order_external_id: str
    order_total: Decimal
    shop_invoice_number: str | None  # the shop's own invoice, which a voucher carries
    parent: Related | None
    children: list[Related]
    timeline: list[TimelineEvent]  # oldest first

    @property
    def retryable(self) -> bool:
        return self.state == "failed"

    @property
    def payments(self) -> list[Related]:
        return [c for c in self.children if c.kind == "payment"]

    @property
    def followers(self) -> list[Related]:
        """The children that are not payments: credit notes, reversing vouchers."""
        return [c for c in self.children if c.kind != "payment"]

    @property
    def settled(self) -> bool:
        """Nothing will change without someone acting: the page need not poll."""
        return self.state in ("posted", "cancelled", "failed", "needs_reconnect")


async def document_detail(
    conn: Connection | Pool, shop_id: UUID, document_id: int
) -> DocumentDetail | None:
    """The document with its order, parent, children and timeline; None when it is not
    this shop's (another tenant's id looks exactly like a missing one)."""
    row = await conn.fetchrow(
        """
        SELECT d.id, d.kind, d.seq, d.state, d.step, d.mode, d.currency, d.amount,
               d.client_guid, d.dinero_guid, d.dinero_number, d.dinero_status,
               d.external_reference, d.attempts, d.failures, d.uncertain, d.next_attempt_at,
               d.last_error, d.last_error_code, d.created_at, d.updated_at, d.posted_at,
               d.settlement_account, d.file_guid, d.file_name,
               d.payload ->> 'method' AS payment_method, d.parent_id,
               o.number AS order_number, o.external_id AS order_external_id,
               o.total AS order_total, o.payload -> 'invoice' ->> 'number' AS shop_invoice_number
        FROM documents d JOIN orders o ON o.id = d.order_id AND o.shop_id = d.shop_id
        WHERE d.shop_id = $1 AND d.id = $2
        """,
        shop_id,
        document_id,
    )
    if row is None:
        return None
    related = await conn.fetch(
        "SELECT id, kind, state, dinero_number, dinero_status, amount, currency, "
        "id = $3 AS is_parent FROM documents "
        "WHERE shop_id = $1 AND (id = $3 OR parent_id = $2) ORDER BY id",
        shop_id,
        document_id,
        row["parent_id"],
    )
    events = await conn.fetch(
        "SELECT created_at, kind, level, message FROM ("
        "  SELECT id, created_at, kind, level, message FROM events"
        "  WHERE document_id = $2 AND shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $3"
        ") AS latest ORDER BY created_at, id",
        shop_id,
        document_id,
        TIMELINE_LIMIT,
    )
    fields = {k: v for k, v in dict(row).items() if k != "parent_id"}
    return DocumentDetail(
        **fields,
        parent=next((_related(r) for r in related if r["is_parent"]), None),
        children=[_related(r) for r in related if not r["is_parent"]],
        timeline=[TimelineEvent(**dict(e)) for e in events],
    )


def _related(row: asyncpg.Record) -> Related:
    return Related(**{k: v for k, v in dict(row).items() if k != "is_parent"})


async def document_exists(conn: Connection | Pool, shop_id: UUID, document_id: int) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM documents WHERE shop_id = $1 AND id = $2", shop_id, document_id
    )
    return bool(found)
