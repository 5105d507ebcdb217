"""Ingest by group commit: the events that arrive at a web process within a couple of
milliseconds are recorded in one call of `ingest_batch` (migration 0013), one round trip and
one commit for all of them, on a connection of the batcher's own (never returned to a pool,
so never reset). After the commit, their new documents are enqueued in one call.

The function records the common case — an event for an order the shop has not sent
before, without a refund or a cancellation, for a shop that does not register payments —
exactly as `record_event` would. Every other event, and every later event in the same
batch for the same order or event id, comes back as `None`: record it with `record_event`
(after the batch has committed, so events of one order still apply in arrival order).

When Postgres fails, every event of the batch gets the error (the call was one
transaction: nothing of it is stored); any other database error (a deadlock with another
process, a constraint) leaves the whole batch to `record_event`, event by event.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg
from arq.connections import ArqRedis

from gateway import queue
from gateway.db import connect
from gateway.group_commit import WINDOW_SECONDS, GroupCommit
from gateway.orders import Event, canonical
from gateway.outages import unavailable_service
from tenants.orders.ingest import ENQUEUE_AHEAD, Recorded, ShopChanged
from tenants.outbox.identity import client_guid, external_reference
from tenants.shops.ingest_secrets import IngestShop

log = logging.getLogger(__name__)

_ENQUEUE_TIMEOUT: Final = 1.0


class IngestBatcher:
    """One web process's group commit of ingest events."""

    def __init__(
        self, database_url: str, redis: ArqRedis, *, window: float = WINDOW_SECONDS
    ) -> None:
        self._database_url = database_url
        self._redis = redis
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._group: GroupCommit[tuple[IngestShop, Event, bytes], Recorded | None] = GroupCommit(
            self._flush, window=window
        )

    async def record(self, shop: IngestShop, event: Event, fingerprint: bytes) -> Recorded | None:
        """The event's `Recorded` once its batch has committed and its documents were
        enqueued; None when `record_event` must record it. Raises `ShopChanged` (nothing
        stored) and Postgres' connection errors (nothing of the batch stored)."""
        return await self._group.submit((shop, event, hashlib.sha256(fingerprint).digest()))

    async def close(self) -> None:
        await self._group.stop()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _flush(
        self, items: Sequence[tuple[IngestShop, Event, bytes]]
    ) -> list[Recorded | BaseException | None]:
        payload = [_element(shop, event, sha) for shop, event, sha in items]
        if all(element.get("fallback") for element in payload):
            return [None] * len(items)
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await connect(self._database_url, application_name="gateway-ingest")
            rows = await self._conn.fetch(
                "SELECT idx, outcome, receipt, enqueue FROM ingest_batch($1::jsonb, $2)",
                payload,
                ENQUEUE_AHEAD,
            )
        except Exception as exc:
            await self._discard_connection()
            if unavailable_service(exc) is not None:
                return [exc] * len(items)
            log.warning(
                "a batch of %d events went to one transaction each (%s: %s)",
                len(items),
                type(exc).__name__,
                exc,
            )
            return [None] * len(items)
        results: list[Recorded | BaseException | None] = []
        new: list[int] = []
        for row in rows:
            if row["outcome"] == "recorded":
                results.append(Recorded(row["receipt"], repeated=False, enqueue=()))
                new.extend(row["enqueue"])
            elif row["outcome"] == "shop_changed":
                results.append(ShopChanged(items[len(results)][0].id))
            else:
                results.append(None)
        # Committed: wake the workers, once for the batch (before answering, as one event's
        # transaction does, so an overloaded server takes on no more than it finishes).
        await queue.enqueue_posts(self._redis, [(i, 0) for i in new], wait_at_most=_ENQUEUE_TIMEOUT)
        return results

    async def _discard_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()


def _element(shop: IngestShop, event: Event, body_sha256: bytes) -> dict[str, Any]:
    order = event.order
    element: dict[str, Any] = {
        "shop_id": str(shop.id),
        "event_id": event.id,
        "external_id": order.id,
    }
    if event.refund is not None or event.type == "order.cancelled" or shop.register_payments:
        return {**element, "fallback": True}
    paid_at = order.paid_at or (event.occurred_at if event.type == "order.paid" else None)
    shipped_at = order.shipped_at or (event.occurred_at if event.type == "order.shipped" else None)
    trigger_met = (
        (shop.trigger == "paid" and paid_at is not None)
        or (shop.trigger == "shipped" and shipped_at is not None)
        or shop.trigger == "created"
    )
    return {
        **element,
        "fingerprint": shop.fingerprint,
        "event_type": event.type,
        "body_sha256": body_sha256.hex(),
        "number": order.number,
        "currency": order.currency,
        "total": str(order.total),
        "payload": canonical(order),
        "ordered_at": _time(order.created_at),
        "paid_at": _time(paid_at),
        "shipped_at": _time(shipped_at),
        "occurred_at": _time(event.occurred_at),
        "mode": shop.mode,
        "make_invoice": trigger_met,
        **{
            kind: {
                "guid": str(client_guid(shop.id, order.id, kind, seq=0)),
                "reference": external_reference(shop.id, order.id, kind, seq=0),
            }
            for kind in ("invoice", "voucher")
        },
    }


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
