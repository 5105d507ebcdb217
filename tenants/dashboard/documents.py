"""A shop's documents as its owner's pages show them: the list by state (keyset pages),
counts per state, and one document's detail with its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal, get_args
from uuid import UUID

import asyncpg

from gateway.db import Connection, Pool
from tenants.dashboard.shop import capped

PAGE_SIZE: Final = 50
TIMELINE_LIMIT: Final = 200

State = Literal[
    "waiting", "awaiting_activation", "queued", "needs_reconnect", "failed", "posted", "cancelled"
]
STATES: Final[tuple[State, ...]] = get_args(State)


@dataclass(frozen=True)
class DocumentRow:
    id: int
    kind: str
    state: str
    mode: str
    currency: str
    amount: Decimal
    backend_number: int | None
    last_error: str | None
    created_at: datetime
    order_number: str
    order_external_id: str
    # Dinero's payment status (`Registered` until confirmed, then Paid, OverPaid, or Booked
    # for partly paid): a payment's own, an invoice's or credit note's from its payment.
    payment_status: str | None


@dataclass(frozen=True)
class Narrowing:
    """What the owner narrowed the list to, beyond the state: the order's number (exact, or
    its beginning) or id, the customer (a part of the name, company or e-mail), when the
    document was made (`created_from` inclusive, `created_before` exclusive) and its amount
    (inclusive bounds)."""

    search: str = ""
    customer: str = ""
    created_from: datetime | None = None
    created_before: datetime | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None


@dataclass(frozen=True)
class DocumentPage:
    items: list[DocumentRow]
    newer: int | None  # the cursor for the page before (`after`), if there is one
    older: int | None  # the cursor for the page after (`before`), if there is one


_ROW_COLUMNS: Final = (
    "d.id, d.kind, d.state, d.mode, d.currency, d.amount, d.backend_number, d.last_error, "
    "d.created_at, o.number AS order_number, o.external_id AS order_external_id, "
    "CASE WHEN d.kind = 'payment' THEN d.backend_status "
    "WHEN d.kind IN ('invoice', 'credit_note') THEN "
    "(SELECT p.backend_status FROM documents p WHERE p.parent_id = d.id "
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
    narrowing: Narrowing | None = None,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> DocumentPage:
    """Newest first; narrowed to one state and by `narrowing` (`search` alone is a
    shorthand for an order number search); the page older than document `before`, or newer
    than document `after`.

    The SQL is put together from constant fragments rather than `$n IS NULL OR ...`, so
    each variant gets a plan that uses its index (a generic plan for the catch-all form
    could not)."""
    narrowing = narrowing or Narrowing(search=search)
    conditions = ["d.shop_id = $1"]
    args: list[Any] = [shop_id]
    if state is not None:
        args.append(state)
        conditions.append(f"d.state = ${len(args)}")
    conditions += _narrowed(narrowing, args)
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


def _narrowed(narrowing: Narrowing, args: list[Any]) -> list[str]:
    """The conditions `narrowing` adds, each value appended to `args` as a parameter."""
    conditions = []
    if narrowing.search:
        # The exact number or id is an index lookup, and so is a number's beginning: the
        # range of numbers from it up to it followed by the last code point, in byte order
        # (`orders_shop_number_prefix_idx`); `starts_with` keeps the range exact.
        args += [narrowing.search, narrowing.search + _LAST_CODE_POINT]
        n = len(args) - 1
        conditions.append(
            f"d.order_id IN (SELECT id FROM orders WHERE shop_id = $1 "  # noqa: S608
            f"AND (number = ${n} OR external_id = ${n} OR (number ~>=~ ${n} "
            f"AND number ~<~ ${n + 1} AND starts_with(number, ${n}))))"
        )
    if narrowing.customer:
        args.append(f"%{_like_escaped(narrowing.customer)}%")
        n = len(args)
        conditions.append(
            f"d.order_id IN (SELECT id FROM orders WHERE shop_id = $1 AND ("  # noqa: S608
            f"payload->'customer'->>'name' ILIKE ${n} OR payload->'customer'->>'company' "
            f"ILIKE ${n} OR payload->'customer'->>'email' ILIKE ${n}))"
        )
    for value, condition in (
        (narrowing.created_from, "d.created_at >= ${}"),
        (narrowing.created_before, "d.created_at < ${}"),
        (narrowing.min_amount, "d.amount >= ${}"),
        (narrowing.max_amount, "d.amount <= ${}"),
    ):
        if value is not None:
            args.append(value)
            conditions.append(condition.format(len(args)))
    return conditions


DINERO_APP_URL: Final = "https://app.dinero.dk"
_LAST_CODE_POINT: Final = "\U0010ffff"


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def state_counts(conn: Connection | Pool, shop_id: UUID) -> dict[State, int]:
    """How many documents are in each state, each counted up to COUNT_CAP."""
    rows = await conn.fetch(
        f"""
        SELECT s.state, {capped("d.shop_id = $1 AND d.state = s.state")} AS n
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
    backend_number: int | None
    backend_status: str | None
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
    backend_id: UUID | None
    backend_number: int | None
    backend_status: str | None
    organization_id: int | None  # the Dinero organisation it went to (fixed at its first step)
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
    def dinero_url(self) -> str | None:
        """Where the organisation it was posted to opens in Dinero's web app: Dinero
        documents its address as app.dinero.dk/ followed by the organisation id; a link to
        one document inside it is not documented, so the page names its number next to
        this link instead."""
        if self.organization_id is None or self.backend_id is None:
            return None
        return f"{DINERO_APP_URL}/{self.organization_id}"

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
        return self.state in (
            "posted",
            "cancelled",
            "failed",
            "needs_reconnect",
            "awaiting_activation",
        )


async def document_detail(
    conn: Connection | Pool, shop_id: UUID, document_id: int
) -> DocumentDetail | None:
    """The document with its order, parent, children and timeline; None when it is not
    this shop's (another tenant's id looks exactly like a missing one)."""
    row = await conn.fetchrow(
        """
        SELECT d.id, d.kind, d.seq, d.state, d.step, d.mode, d.currency, d.amount,
               d.client_guid, d.backend_id, d.backend_number, d.backend_status,
               d.organization_id, d.external_reference, d.attempts, d.failures, d.uncertain,
               d.next_attempt_at,
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
        "SELECT id, kind, state, backend_number, backend_status, amount, currency, "
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
