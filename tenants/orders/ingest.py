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
- Which rows each event creates (credit notes, reversing vouchers, the cancellation's,
  payments) is `tenants.orders.documents`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import asyncpg
from arq.connections import ArqRedis

from gateway import queue
from gateway.db import Connection
from gateway.orders import Event, FieldError, InvalidEvent, canonical
from tenants.orders.documents import (
    CANCEL_REF,
    RESERVED_REFS,
    OrderDocuments,
    OrderFacts,
)
from tenants.outbox import creation
from tenants.outbox.identity import (
    GATEWAY_NAMESPACE,
    MAX_REFERENCE,
    client_guid,
    external_reference,
)
from tenants.shops.ingest_cache import FINGERPRINT
from tenants.shops.ingest_secrets import IngestShop, shop_for_ingest

__all__ = [
    "CANCEL_REF",
    "ENQUEUE_AHEAD",
    "GATEWAY_NAMESPACE",
    "MAX_REFERENCE",
    "EventIdReused",
    "IngestShop",
    "Recorded",
    "ShopChanged",
    "canonical",
    "client_guid",
    "enqueue_new_documents",
    "external_reference",
    "record_event",
    "shop_for_ingest",
]

log = logging.getLogger(__name__)

# New documents are enqueued directly only while the shop has fewer queued than this; the
# sweeper hands out the rest fairly, so one shop's backlog cannot fill arq's FIFO queue.
ENQUEUE_AHEAD: Final = 50
_ENQUEUE_TIMEOUT: Final = 1.0


class EventIdReused(Exception):
    """The event id was seen before with a different body."""


class ShopChanged(Exception):
    """The shop was served from a cache and has changed since (a rolled secret, other
    settings): nothing was stored; verify the delivery again against a fresh read."""


# --- recording an event ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What recording an event did: the receipt (which documents the order now has, the
    same for every repeat of the event), whether this was a repeat, and the new documents to
    wake a worker for once committed."""

    receipt: dict[str, Any]
    repeated: bool
    enqueue: tuple[int, ...]  # new queued documents to enqueue, once committed


async def record_event(
    conn: Connection, shop: IngestShop, event: Event, *, body_sha256: bytes
) -> Recorded:
    """Stores a valid, verified event in one transaction and returns its receipt. Raises
    `EventIdReused` for a known id with another body, `InvalidEvent` when a refund would
    take more than the order's total, and `ShopChanged` when `shop` came from a cache and
    is stale (nothing is stored then)."""
    async with conn.transaction():
        order = await _claim_and_upsert(conn, shop, event, body_sha256)
        if order is None:
            return await _first_answer(conn, shop.id, event, body_sha256)
        documents = [] if order.inserted else await creation.documents_of(conn, shop.id, order.id)
        work = OrderDocuments(conn, shop, event.order.id, order, documents)
        if order.applied:
            if event.type == "order.cancelled":
                await work.cancel()
            elif _trigger_met(shop.trigger, order):
                await work.ensure_invoice()
        new_refund = event.refund is not None and await _store_refund(conn, shop.id, event, order)
        # Refunds stored before the invoice existed are credited once it does.
        if new_refund or (work.invoice_created and not order.inserted):
            await work.credit_refunds()
        await work.ensure_payments(event.order)
        await work.ensure_voucher_settlement(event.order)
        receipt = {
            "event_id": event.id,
            "order_id": event.order.id,
            "documents": [
                {"id": d.id, "kind": d.kind, "state": d.state}
                for d in sorted(work.documents, key=lambda d: d.id)
            ],
        }
        queued_before = await _finish_delivery(conn, shop.id, event.id, receipt, work.new_queued)
    enqueue = tuple(work.new_queued) if queued_before < ENQUEUE_AHEAD else ()
    return Recorded(receipt, repeated=False, enqueue=enqueue)


def _trigger_met(trigger: str, order: OrderFacts) -> bool:
    if order.cancelled_at is not None:
        return False
    if trigger == "paid":
        return order.paid_at is not None
    if trigger == "shipped":
        return order.shipped_at is not None
    return trigger == "created"


async def _first_answer(
    conn: Connection, shop_id: UUID, event: Event, body_sha256: bytes
) -> Recorded:
    """The receipt of the delivery that claimed the event id first (it has committed: the
    claim waited for it), or `EventIdReused` when that one had another body."""
    row = await conn.fetchrow(
        "SELECT body_sha256, response_body FROM deliveries WHERE shop_id = $1 AND event_id = $2",
        shop_id,
        event.id,
    )
    assert row is not None  # deliveries are only deleted long after their tolerance window
    if bytes(row["body_sha256"]) != body_sha256:
        raise EventIdReused(event.id)
    return Recorded(row["response_body"], repeated=True, enqueue=())


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


async def _claim_and_upsert(
    conn: Connection, shop: IngestShop, event: Event, body_sha256: bytes
) -> OrderFacts | None:
    """Claims the event id and, only if this delivery is the first, upserts the order: one
    statement, one round trip. None when the id was claimed before; a concurrent delivery
    of the same id waits on the first one's row until that commits (or rolls back). A shop
    from the cache must still have its fingerprint, or nothing is claimed (`ShopChanged`)."""
    shop_id = shop.id
    order = event.order
    paid_at = order.paid_at or (event.occurred_at if event.type == "order.paid" else None)
    shipped_at = order.shipped_at or (event.occurred_at if event.type == "order.shipped" else None)
    cancelled_at = event.occurred_at if event.type == "order.cancelled" else None
    # The upsert reads its one row from `claim`, so it runs only after the claim succeeded.
    # `before` reads the row as it was (the statement's snapshot), to tell whether this event
    # is the first to say the order is paid. A concurrent event may have said so already
    # after that snapshot; what follows from "newly paid" is idempotent under the row lock.
    # The answer is stored at the end of the transaction (`_finish_delivery`).
    row = await conn.fetchrow(
        f"""
        WITH shop_ok AS (
            SELECT $15::text IS NULL OR EXISTS (
                SELECT 1 FROM shops WHERE id = $1 AND {FINGERPRINT} = $15) AS ok
        ),
        claim AS (
            INSERT INTO deliveries (shop_id, event_id, event_type, body_sha256,
                                    response_status, response_body)
            SELECT $1, $12, $13, $14, 202, '{{}}' FROM shop_ok WHERE ok
            ON CONFLICT (shop_id, event_id) DO NOTHING
            RETURNING true AS claimed
        ),
        before AS (SELECT paid_at FROM orders WHERE shop_id = $1 AND external_id = $2),
        upserted AS (
            INSERT INTO orders AS o (shop_id, external_id, number, currency, total, payload,
                                     ordered_at, paid_at, shipped_at, cancelled_at,
                                     last_event_at)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM claim
            ON CONFLICT (shop_id, external_id) DO UPDATE SET
                number = EXCLUDED.number, currency = EXCLUDED.currency, total = EXCLUDED.total,
                payload = EXCLUDED.payload, ordered_at = EXCLUDED.ordered_at,
                paid_at = COALESCE(EXCLUDED.paid_at, o.paid_at),
                shipped_at = COALESCE(EXCLUDED.shipped_at, o.shipped_at),
                cancelled_at = COALESCE(o.cancelled_at, EXCLUDED.cancelled_at),
                last_event_at = EXCLUDED.last_event_at, updated_at = now()
            WHERE o.last_event_at <= EXCLUDED.last_event_at
            RETURNING {_ORDER_RETURNING}, xmax = 0 AS inserted,
                (SELECT paid_at IS NOT NULL FROM before) AS was_paid
        )
        SELECT shop_ok.ok AS shop_current, claim.claimed, upserted.*
        FROM shop_ok LEFT JOIN claim ON true LEFT JOIN upserted ON true
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
        event.id,
        event.type,
        body_sha256,
        shop.fingerprint,
    )
    assert row is not None
    if not row["shop_current"]:
        raise ShopChanged(shop_id)
    if row["claimed"] is None:
        return None  # claimed before
    if row["id"] is not None:
        newly_paid = row["paid_at"] is not None and not row["was_paid"]
        return _order_row(row, inserted=row["inserted"], applied=True, newly_paid=newly_paid)
    # Stale: the upsert's WHERE refused, but ON CONFLICT has locked the row all the same.
    row = await conn.fetchrow(
        f"SELECT {_ORDER_RETURNING} FROM orders "  # noqa: S608 - constant column list
        "WHERE shop_id = $1 AND external_id = $2 FOR UPDATE",
        shop_id,
        order.id,
    )
    assert row is not None
    return _order_row(row, inserted=False, applied=False)


def _order_row(
    row: asyncpg.Record, *, inserted: bool, applied: bool, newly_paid: bool = False
) -> OrderFacts:
    return OrderFacts(
        id=row["id"],
        inserted=inserted,
        applied=applied,
        currency=row["currency"],
        total=row["total"],
        paid_at=row["paid_at"],
        shipped_at=row["shipped_at"],
        cancelled_at=row["cancelled_at"],
        newly_paid=newly_paid,
    )


async def _store_refund(conn: Connection, shop_id: UUID, event: Event, order: OrderFacts) -> bool:
    """Stores the event's refund; False when its id is known (a repeat changes nothing)."""
    refund = event.refund
    assert refund is not None
    if refund.id in RESERVED_REFS:
        # A credit note's source_ref is its refund id, and "cancel" names the cancellation's.
        reserved = " and ".join(f'"{ref}"' for ref in sorted(RESERVED_REFS))
        raise InvalidEvent([FieldError("/refund/id", f"{reserved} are reserved")])
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


# --- after commit ----------------------------------------------------------------------------


async def enqueue_new_documents(redis: ArqRedis, document_ids: Sequence[int]) -> None:
    """Wakes a worker for each new document (its first attempt). Call after commit only;
    Redis failing or slow is logged and ignored, as the sweeper finds the rows."""
    await queue.enqueue_posts(redis, [(i, 0) for i in document_ids], wait_at_most=_ENQUEUE_TIMEOUT)
