"""Orders as the shops send them, and the documents each one is owed.

`record_event` is the ingest's one transaction. It claims the event id (a repeat gets the
stored first answer and changes nothing), stores the order, stores a refund, creates or
updates the order's `documents` rows as the shop's trigger asks, and stores the answer with
the delivery. What it returns says which new documents to enqueue; enqueue only after it has
returned, because only then is the transaction committed (`enqueue_new_documents`).

Rules, beyond the pipeline contract:

- Events for one order are serialised by the order row's lock (the upsert takes it), so two
  deliveries at once can never both create an invoice; unique keys back that up.
- An event older than the order's `last_event_at` is stale: the order, its lifecycle and its
  invoice stay as they are. A refund it carries is still stored, because a refund is a fact
  of its own (keyed by its id) that a late arrival must not lose.
- Facts only move forward: once paid, shipped or cancelled, an order stays so.
- A cancelled order gets no new documents but its cancellation's credit note; refunds of it
  are stored and get no credit note (its invoice is cancelled, or credited in full).
- Refunds of an order may not add up to more than its total.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from uuid import UUID, uuid5

import asyncpg
from arq.connections import ArqRedis

from gateway.db import Connection, Pool
from gateway.orders import Event, FieldError, InvalidEvent, Order, Refund
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.ingest_secrets import VERIFICATION_COLUMNS, verification_secrets

log = logging.getLogger(__name__)

# Fixed for ever: every document's client_guid is derived from it.
GATEWAY_NAMESPACE: Final = UUID("6e91237b-42eb-4e6c-84ae-9eba22f012d6")
# New documents are enqueued directly only while the shop has fewer queued than this; the
# sweeper hands out the rest fairly, so one shop's backlog cannot fill arq's FIFO queue.
ENQUEUE_AHEAD: Final = 50
POST_JOB: Final = "documents.post"
CANCEL_REF: Final = "cancel"
MAX_REFERENCE: Final = 128
_ENQUEUE_TIMEOUT: Final = 1.0
_KIND_SHORT: Final = {"invoice": "inv", "voucher": "vou", "credit_note": "cn", "payment": "pay"}
# An invoice in one of these states, at step 'new', not leased and not uncertain, has not
# reached Dinero: cancelling it needs nothing from Dinero.
_UNSTARTED: Final = frozenset({"queued", "waiting", "failed", "needs_reconnect"})


class EventIdReused(Exception):
    """The event id was seen before with a different body."""


def client_guid(
    shop_id: UUID, external_id: str, kind: str, *, seq: int, source_ref: str | None = None
) -> UUID:
    """The Guid a document is created with in Dinero: the same for every retry."""
    return uuid5(GATEWAY_NAMESPACE, f"{shop_id}:{external_id}:{kind}:{source_ref or seq}")


def external_reference(shop_id: UUID, external_id: str, kind: str, *, seq: int) -> str:
    """`dg-<first 12 hex of the shop id>-<kind>-<order id>`, with `-<seq>` for documents
    an order can have several of. Dinero allows 128 characters; a longer order id is
    replaced by the first 32 hex digits of its sha256, which keeps the reference unique."""

    def build(order_part: str) -> str:
        reference = f"dg-{shop_id.hex[:12]}-{_KIND_SHORT[kind]}-{order_part}"
        return reference if kind in ("invoice", "voucher") else f"{reference}-{seq}"

    reference = build(external_id)
    if len(reference) > MAX_REFERENCE:
        reference = build(hashlib.sha256(external_id.encode()).hexdigest()[:32])
    return reference


def canonical(value: Order | Refund) -> dict[str, Any]:
    """The parsed order or refund as JSON (money as decimal strings, times in RFC 3339), as
    stored: `gateway.orders.parse_order`/`parse_refund` read it back unchanged."""
    stored: dict[str, Any] = _jsonable(value)
    return stored


def _jsonable(value: Any) -> Any:
    # On every event's path: walks the fields itself, because `dataclasses.asdict`
    # deep-copies every leaf and cost more than parsing the body did.
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is None:
        raise TypeError(f"{type(value).__name__} has no JSON form")
    return {name: _jsonable(getattr(value, name)) for name in names}


# --- the shop, as the ingest endpoint needs it -----------------------------------------------


@dataclass(frozen=True)
class IngestShop:
    id: UUID
    trigger: str
    mode: str
    document_kind: str
    secrets: tuple[Secret, ...] = field(repr=False)


async def shop_for_ingest(
    conn: Connection | Pool, vault: Vault, shop_id: UUID, now: dt.datetime
) -> IngestShop | None:
    """The shop's settings and its valid ingest secrets, in one query."""
    row = await conn.fetchrow(
        f"SELECT trigger, mode, document_kind, {VERIFICATION_COLUMNS} "  # noqa: S608
        "FROM shops WHERE id = $1",
        shop_id,
    )
    if row is None:
        return None
    return IngestShop(
        id=shop_id,
        trigger=row["trigger"],
        mode=row["mode"],
        document_kind=row["document_kind"],
        secrets=verification_secrets(vault, shop_id, row, now),
    )


# --- recording an event ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    status: int
    answer: dict[str, Any]  # the body of the answer, the same for every repeat
    repeated: bool
    enqueue: tuple[int, ...]  # new queued documents to enqueue, once committed


@dataclass(frozen=True)
class _OrderRow:
    id: int
    inserted: bool
    applied: bool  # False for a stale event
    currency: str
    total: Decimal
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    cancelled_at: dt.datetime | None


@dataclass
class _Document:
    id: int
    kind: str
    seq: int
    source_ref: str | None
    state: str
    step: str = "new"
    leased: bool = False
    uncertain: bool = False

    @property
    def unstarted(self) -> bool:
        return (
            self.state in _UNSTARTED
            and self.step == "new"
            and not self.leased
            and not self.uncertain
        )


async def record_event(
    conn: Connection, shop: IngestShop, event: Event, *, body_sha256: bytes
) -> Recorded:
    """Stores a valid, verified event in one transaction and returns the answer. Raises
    `EventIdReused` for a known id with another body, and `InvalidEvent` when a refund would
    take more than the order's total (nothing is stored then)."""
    async with conn.transaction():
        first = await _claim_delivery(conn, shop.id, event, body_sha256)
        if first is not None:
            return first
        order = await _upsert_order(conn, shop.id, event)
        documents = [] if order.inserted else await _documents(conn, shop.id, order.id)
        work = _OrderDocuments(conn, shop, event.order.id, order, documents)
        if order.applied:
            if event.type == "order.cancelled":
                await work.cancel()
            elif _trigger_met(shop.trigger, order):
                await work.ensure_invoice()
        new_refund = event.refund is not None and await _store_refund(conn, shop.id, event, order)
        # Refunds stored before the invoice existed are credited once it does.
        if new_refund or (work.invoice_created and not order.inserted):
            await work.credit_refunds()
        answer = {
            "event_id": event.id,
            "order_id": event.order.id,
            "documents": [
                {"id": d.id, "kind": d.kind, "state": d.state}
                for d in sorted(work.documents, key=lambda d: d.id)
            ],
        }
        queued_before = await _finish_delivery(conn, shop.id, event.id, answer, work.new_queued)
    enqueue = tuple(work.new_queued) if queued_before < ENQUEUE_AHEAD else ()
    return Recorded(status=202, answer=answer, repeated=False, enqueue=enqueue)


def _trigger_met(trigger: str, order: _OrderRow) -> bool:
    if order.cancelled_at is not None:
        return False
    if trigger == "paid":
        return order.paid_at is not None
    if trigger == "shipped":
        return order.shipped_at is not None
    return trigger == "created"


async def _claim_delivery(
    conn: Connection, shop_id: UUID, event: Event, body_sha256: bytes
) -> Recorded | None:
    """Claims the event id, or returns the first delivery's answer. A concurrent delivery of
    the same id waits here on the first one's row until it commits (or rolls back)."""
    claimed = await conn.fetchval(
        """
        INSERT INTO deliveries (shop_id, event_id, event_type, body_sha256,
                                response_status, response_body)
        VALUES ($1, $2, $3, $4, 202, '{}')
        ON CONFLICT (shop_id, event_id) DO NOTHING
        RETURNING true
        """,
        shop_id,
        event.id,
        event.type,
        body_sha256,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT body_sha256, response_status, response_body FROM deliveries "
        "WHERE shop_id = $1 AND event_id = $2",
        shop_id,
        event.id,
    )
    assert row is not None  # deliveries are only deleted long after their tolerance window
    if bytes(row["body_sha256"]) != body_sha256:
        raise EventIdReused(event.id)
    return Recorded(row["response_status"], row["response_body"], repeated=True, enqueue=())


async def _finish_delivery(
    conn: Connection, shop_id: UUID, event_id: str, answer: dict[str, Any], new: Sequence[int]
) -> int:
    """Stores the answer; returns how many queued documents the shop had before this event
    (counted only up to what the enqueue decision needs, on the partial queued index)."""
    count = await conn.fetchval(
        """
        UPDATE deliveries SET response_status = 202, response_body = $3
        WHERE shop_id = $1 AND event_id = $2
        RETURNING (SELECT count(*) FROM (SELECT 1 FROM documents
                   WHERE shop_id = $1 AND state = 'queued' LIMIT $4) AS queued)
        """,
        shop_id,
        event_id,
        answer,
        ENQUEUE_AHEAD + len(new) if new else 0,
    )
    return int(count) - len(new)


_ORDER_RETURNING: Final = "id, currency, total, paid_at, shipped_at, cancelled_at"


async def _upsert_order(conn: Connection, shop_id: UUID, event: Event) -> _OrderRow:
    order = event.order
    paid_at = order.paid_at or (event.occurred_at if event.type == "order.paid" else None)
    shipped_at = order.shipped_at or (event.occurred_at if event.type == "order.shipped" else None)
    cancelled_at = event.occurred_at if event.type == "order.cancelled" else None
    row = await conn.fetchrow(
        f"""
        INSERT INTO orders AS o (shop_id, external_id, number, currency, total, payload,
                                 ordered_at, paid_at, shipped_at, cancelled_at, last_event_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (shop_id, external_id) DO UPDATE SET
            number = EXCLUDED.number, currency = EXCLUDED.currency, total = EXCLUDED.total,
            payload = EXCLUDED.payload, ordered_at = EXCLUDED.ordered_at,
            paid_at = COALESCE(EXCLUDED.paid_at, o.paid_at),
            shipped_at = COALESCE(EXCLUDED.shipped_at, o.shipped_at),
            cancelled_at = COALESCE(o.cancelled_at, EXCLUDED.cancelled_at),
            last_event_at = EXCLUDED.last_event_at, updated_at = now()
        WHERE o.last_event_at <= EXCLUDED.last_event_at
        RETURNING {_ORDER_RETURNING}, xmax = 0 AS inserted
        """,  # noqa: S608 - constant column list
        shop_id,
        order.id,
        order.number,
        order.currency,
        order.total,
        canonical(order),
        order.created_at,
        paid_at,
        shipped_at,
        cancelled_at,
        event.occurred_at,
    )
    if row is not None:
        return _order_row(row, inserted=row["inserted"], applied=True)
    # Stale: the upsert's WHERE refused, but ON CONFLICT has locked the row all the same.
    row = await conn.fetchrow(
        f"SELECT {_ORDER_RETURNING} FROM orders "  # noqa: S608 - constant column list
        "WHERE shop_id = $1 AND external_id = $2 FOR UPDATE",
        shop_id,
        order.id,
    )
    assert row is not None
    return _order_row(row, inserted=False, applied=False)


def _order_row(row: asyncpg.Record, *, inserted: bool, applied: bool) -> _OrderRow:
    return _OrderRow(
        id=row["id"],
        inserted=inserted,
        applied=applied,
        currency=row["currency"],
        total=row["total"],
        paid_at=row["paid_at"],
        shipped_at=row["shipped_at"],
        cancelled_at=row["cancelled_at"],
    )


async def _documents(conn: Connection, shop_id: UUID, order_id: int) -> list[_Document]:
    # Locked, so a worker cannot lease the invoice while we decide to cancel it.
    rows = await conn.fetch(
        """
        SELECT id, kind, seq, source_ref, state, step, uncertain,
               coalesce(lease_expires_at > now(), false) AS leased
        FROM documents WHERE shop_id = $1 AND order_id = $2
        ORDER BY id FOR UPDATE
        """,
        shop_id,
        order_id,
    )
    return [_Document(**dict(row)) for row in rows]


async def _store_refund(conn: Connection, shop_id: UUID, event: Event, order: _OrderRow) -> bool:
    """Stores the event's refund; False when its id is known (a repeat changes nothing)."""
    refund = event.refund
    assert refund is not None
    if refund.id == CANCEL_REF:
        # A credit note's source_ref is its refund id, and "cancel" names the cancellation's.
        raise InvalidEvent([FieldError("/refund/id", f'"{CANCEL_REF}" is reserved')])
    row = await conn.fetchrow(
        """
        INSERT INTO refunds (shop_id, order_id, refund_id, total, payload, occurred_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (shop_id, order_id, refund_id) DO NOTHING
        RETURNING (SELECT coalesce(sum(total), 0) FROM refunds
                   WHERE shop_id = $1 AND order_id = $2) AS earlier
        """,
        shop_id,
        order.id,
        refund.id,
        refund.total,
        canonical(refund),
        event.occurred_at,
    )
    if row is None:
        return False
    if row["earlier"] + refund.total > order.total:
        raise InvalidEvent(
            [
                FieldError(
                    "/refund/total",
                    f"refunds of this order would come to {row['earlier'] + refund.total}, "
                    f"more than its total {order.total}",
                )
            ]
        )
    return True


class _OrderDocuments:
    """One event's changes to one order's documents, under the order's lock."""

    def __init__(
        self,
        conn: Connection,
        shop: IngestShop,
        external_id: str,
        order: _OrderRow,
        documents: list[_Document],
    ) -> None:
        self.conn = conn
        self.shop = shop
        self.external_id = external_id
        self.order = order
        self.documents = documents
        self.new_queued: list[int] = []
        self.invoice_created = False

    @property
    def invoice(self) -> _Document | None:
        return next((d for d in self.documents if d.kind in ("invoice", "voucher")), None)

    async def ensure_invoice(self) -> None:
        if self.invoice is not None:
            return
        kind = "voucher" if self.shop.document_kind == "voucher" else "invoice"
        await self._insert(kind, seq=0, source_ref=None, parent=None, payload={})
        self.invoice_created = True

    async def cancel(self) -> None:
        invoice = self.invoice
        if invoice is None or invoice.state == "cancelled":
            return
        if invoice.unstarted:
            await self.conn.execute(
                """
                UPDATE documents SET state = 'cancelled', lease_owner = NULL,
                       lease_expires_at = NULL, updated_at = now()
                WHERE shop_id = $1 AND (id = $2 OR (parent_id = $2 AND state <> 'posted'))
                """,
                self.shop.id,
                invoice.id,
            )
            for document in self.documents:
                if document is invoice or document.state != "posted":
                    document.state = "cancelled"
            return
        if not any(d.source_ref == CANCEL_REF for d in self.documents):
            await self._insert(
                "credit_note",
                seq=self._next_credit_seq(),
                source_ref=CANCEL_REF,
                parent=invoice,
                payload={"full": True},
            )

    async def credit_refunds(self) -> None:
        invoice = self.invoice
        if invoice is None or invoice.state == "cancelled" or self.order.cancelled_at:
            return
        rows = await self.conn.fetch(
            """
            SELECT r.id, r.refund_id, r.total FROM refunds r
            WHERE r.shop_id = $1 AND r.order_id = $2 AND NOT EXISTS (
                SELECT 1 FROM documents d
                WHERE d.shop_id = r.shop_id AND d.order_id = r.order_id
                  AND d.kind = 'credit_note' AND d.source_ref = r.refund_id)
            ORDER BY r.occurred_at, r.id
            """,
            self.shop.id,
            self.order.id,
        )
        for row in rows:
            await self._insert(
                "credit_note",
                seq=self._next_credit_seq(),
                source_ref=row["refund_id"],
                parent=invoice,
                payload={"refund_id": row["id"]},
                amount=row["total"],
            )

    def _next_credit_seq(self) -> int:
        return 1 + max((d.seq for d in self.documents if d.kind == "credit_note"), default=-1)

    async def _insert(
        self,
        kind: str,
        *,
        seq: int,
        source_ref: str | None,
        parent: _Document | None,
        payload: dict[str, Any],
        amount: Decimal | None = None,
    ) -> None:
        # A credit note waits for its invoice to be posted; P2 releases it then.
        state = "waiting" if parent is not None and parent.state != "posted" else "queued"
        row = await self.conn.fetchrow(
            """
            INSERT INTO documents (shop_id, order_id, kind, seq, source_ref, parent_id, state,
                                   mode, payload, currency, amount, client_guid,
                                   external_reference)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            self.shop.id,
            self.order.id,
            kind,
            seq,
            source_ref,
            parent.id if parent else None,
            state,
            self.shop.mode,
            payload,
            self.order.currency,
            self.order.total if amount is None else amount,
            client_guid(self.shop.id, self.external_id, kind, seq=seq, source_ref=source_ref),
            external_reference(self.shop.id, self.external_id, kind, seq=seq),
        )
        # The order's lock makes a conflict impossible; if one came anyway, the unique key
        # has done its job and the existing row stands.
        if row is None:
            log.warning("document %s/%s of order %s already exists", kind, seq, self.order.id)
            return
        self.documents.append(_Document(row["id"], kind, seq, source_ref, state))
        if state == "queued":
            self.new_queued.append(row["id"])


# --- after commit ----------------------------------------------------------------------------


async def enqueue_new_documents(redis: ArqRedis, document_ids: Sequence[int]) -> None:
    """Wakes a worker for each new document. Call after commit only. Failure (Redis down or
    slow) is logged and ignored: the rows are queued in Postgres and the sweeper finds them."""
    if not document_ids:
        return
    try:
        async with asyncio.timeout(_ENQUEUE_TIMEOUT):
            for document_id in document_ids:
                await redis.enqueue_job(
                    POST_JOB, document_id, _job_id=f"{POST_JOB}:{document_id}:0"
                )
    except Exception as exc:  # any Redis failure: the sweeper is the safety net
        log.warning(
            "could not enqueue documents %s (%s); the sweeper will pick them up",
            list(document_ids),
            type(exc).__name__,
        )
