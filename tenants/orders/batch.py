"""Ingest by group commit: the events that reach a web process within a couple of
milliseconds are recorded in one call of `ingest_batch` (migration 0013), one round trip and
one commit for all of them, on connections of the batcher's own (never returned to a pool,
so never reset; two batches may run at once). After the commit, their new documents are
enqueued in one call.

The function records the common case — an event for an order the shop has not sent
before, without a refund or a cancellation, for a shop that does not register payments —
exactly as `record_event` would. Any other event comes back as a `Fallback`, to be recorded
with `record_event` inside it. So does an event for an order or event id that an earlier
event (in this batch, or in one still running or still falling back) has: each waits for the
one before it, so the events of one order apply in the order they arrived, as one at a time
would.

When Postgres fails, every event of the batch gets the error (the call was one
transaction: nothing of it is stored); any other database error (a deadlock with another
process, a constraint) leaves the whole batch to `record_event`, event by event.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final
from uuid import UUID

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

_Key = tuple[str, UUID, str]  # ("order" or "event", shop id, external id or event id)
_Item = tuple[IngestShop, Event, bytes]


class Fallback:
    """An event for `record_event`: `async with` it around that call. Entering waits until
    every earlier fallback of the same order or event id in this process has finished."""

    def __init__(self, batcher: IngestBatcher, keys: tuple[_Key, ...]) -> None:
        self._batcher = batcher
        self._keys = keys
        self._before = [b for key in keys if (b := batcher._last.get(key)) is not None]
        self._done = asyncio.Event()
        for key in keys:
            batcher._last[key] = self

    async def __aenter__(self) -> None:
        try:
            for before in self._before:
                await before._done.wait()
        except BaseException:
            self.release()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def release(self) -> None:
        self._done.set()
        for key in self._keys:
            if self._batcher._last.get(key) is self:
                del self._batcher._last[key]


class IngestBatcher:
    """One web process's group commit of ingest events."""

    def __init__(
        self, database_url: str, redis: ArqRedis, *, window: float = WINDOW_SECONDS
    ) -> None:
        self._database_url = database_url
        self._redis = redis
        self._idle: list[asyncpg.Connection[asyncpg.Record]] = []
        self._last: dict[_Key, Fallback] = {}  # the latest unfinished fallback of each key
        self._group: GroupCommit[_Item, Recorded | Fallback] = GroupCommit(
            self._flush, window=window, discard=_release
        )

    async def record(
        self, shop: IngestShop, event: Event, fingerprint: bytes
    ) -> Recorded | Fallback:
        """The event's `Recorded` once its batch has committed and its documents were
        enqueued, or a `Fallback` for `record_event`. Raises `ShopChanged` (nothing stored)
        and Postgres' connection errors (nothing of the batch stored)."""
        return await self._group.submit((shop, event, hashlib.sha256(fingerprint).digest()))

    async def close(self) -> None:
        await self._group.stop()
        while self._idle:
            await self._idle.pop().close()

    async def _flush(self, items: Sequence[_Item]) -> list[Recorded | Fallback | BaseException]:
        keys = [_keys(shop, event) for shop, event, _ in items]
        # The first event of each order and event id, unless one before it is still in a
        # batch or falling back; every event holds its place in line until it is recorded.
        taken: set[_Key] = set(self._last)
        elements = []
        for n, ((shop, event, sha), own) in enumerate(zip(items, keys, strict=True)):
            if _batchable(shop, event) and not taken.intersection(own):
                elements.append(_element(n, shop, event, sha))
            taken.update(own)
        places = [Fallback(self, own) for own in keys]
        outcomes: dict[int, tuple[str, Any, bool]] = {}
        if elements:
            try:
                outcomes = await self._call(elements)
            except BaseException as exc:
                if unavailable_service(exc) is not None or not isinstance(exc, Exception):
                    for place in places:
                        place.release()
                    raise
                log.warning(
                    "a batch of %d events went to one transaction each (%s: %s)",
                    len(items),
                    type(exc).__name__,
                    exc,
                )
                outcomes = {}
        results: list[Recorded | Fallback | BaseException] = []
        new: list[tuple[int, int]] = []
        for n, (shop, _, _) in enumerate(items):
            outcome, receipt, enqueue = outcomes.get(n, ("fallback", None, False))
            if outcome == "fallback":
                results.append(places[n])
                continue
            places[n].release()
            if outcome == "recorded":
                results.append(Recorded(receipt, repeated=False, enqueue=()))
                if enqueue:
                    new += [(d["id"], 0) for d in receipt["documents"]]
            else:
                results.append(ShopChanged(shop.id))
        # Committed: wake the workers, once for the batch (before answering, as one event's
        # transaction does, so an overloaded server takes on no more than it finishes).
        await queue.enqueue_posts(self._redis, new, wait_at_most=_ENQUEUE_TIMEOUT)
        return results

    async def _call(self, elements: list[dict[str, Any]]) -> dict[int, tuple[str, Any, bool]]:
        conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = await connect(self._database_url, application_name="gateway-ingest")
            rows = await conn.fetch(
                "SELECT event_index, event_outcome, event_receipt, event_enqueue "
                "FROM ingest_batch($1::jsonb, $2)",
                elements,
                ENQUEUE_AHEAD,
            )
        except BaseException:
            if conn is not None:
                conn.terminate()  # in whatever state the failure left it
            raise
        self._idle.append(conn)
        return {
            row["event_index"]: (row["event_outcome"], row["event_receipt"], row["event_enqueue"])
            for row in rows
        }


def _release(result: Recorded | Fallback) -> None:
    """A result whose caller went away: a fallback it will never run must not hold up the
    events after it."""
    if isinstance(result, Fallback):
        result.release()


def _keys(shop: IngestShop, event: Event) -> tuple[_Key, ...]:
    return ("order", shop.id, event.order.id), ("event", shop.id, event.id)


def _batchable(shop: IngestShop, event: Event) -> bool:
    return event.refund is None and event.type != "order.cancelled" and not shop.register_payments


def _element(n: int, shop: IngestShop, event: Event, body_sha256: bytes) -> dict[str, Any]:
    order = event.order
    paid_at = order.paid_at or (event.occurred_at if event.type == "order.paid" else None)
    shipped_at = order.shipped_at or (event.occurred_at if event.type == "order.shipped" else None)
    trigger_met = (
        (shop.trigger == "paid" and paid_at is not None)
        or (shop.trigger == "shipped" and shipped_at is not None)
        or shop.trigger == "created"
    )
    return {
        "idx": n,
        "shop_id": str(shop.id),
        "fingerprint": shop.fingerprint,
        "event_id": event.id,
        "event_type": event.type,
        "body_sha256": body_sha256.hex(),
        "external_id": order.id,
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
