"""What a delivery to `/webhooks/woocommerce/{source_id}` does.

The signature (`X-WC-Webhook-Signature`) is checked against the source's webhook secrets over
the raw body before anything is parsed. WooCommerce's creation ping is a form body
`webhook_id=N` with no signature: it is recognised by its exact shape, answered 200, and
changes nothing. An order topic applies the order's state (`apply.apply_order`), its refunds
read from the REST API first when its summary lists any; `order.deleted` (the order moved to
the bin) changes nothing booked. A repeated delivery finds every fact recorded and changes
nothing. Every verified delivery is answered 200: WooCommerce never retries, and an order the
gateway cannot book is shown to the owner instead.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.woocommerce import signature
from gateway.woocommerce.rest import RestApiError, Unauthorized
from tenants.sources.woocommerce import apply, repository, upkeep

log = logging.getLogger(__name__)

PING: Final = re.compile(rb"webhook_id=[0-9]{1,20}")
ORDER_TOPICS: Final = frozenset({"order.created", "order.updated", "order.restored"})


@dataclass(frozen=True)
class Received:
    status: int  # what WooCommerce is answered
    outcome: str  # for the log line
    enqueue: tuple[int, ...] = ()


async def receive(
    pool: Pool,
    vault: Vault,
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    source_id: UUID,
    topic: str,
    webhook_id: str | None,
    signature_header: str | None,
    body: bytes,
    now: datetime,
) -> Received:
    source = await repository.by_id(pool, vault, source_id)
    if source is None or source.status == "uninstalled":
        return Received(404, "no such source")
    if signature_header is None and PING.fullmatch(body):
        return Received(200, "ping")
    hooks = await repository.webhooks(pool, vault, source.id)
    named = [h.secret for h in hooks if webhook_id and str(h.webhook_id) == webhook_id]
    if not signature.is_authentic(body, signature_header, named or [h.secret for h in hooks]):
        return Received(401, "invalid signature")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return Received(200, "unreadable body")
    if not isinstance(payload, dict):
        return Received(200, "unreadable body")
    await repository.delivered(pool, source.id, now)
    if topic == "order.deleted":
        return Received(
            200, f"order {str(payload.get('id'))[:30]} moved to the bin: nothing changes"
        )
    if topic not in ORDER_TOPICS:
        return Received(200, "topic not used")
    refunds: list[dict[str, Any]] = []
    api = await upkeep.api_of(pool, http, settings, source) if payload.get("refunds") else None
    if api is not None:
        try:
            refunds = await apply.refunds_of(api, payload)
        except Unauthorized:
            await repository.lost_access(pool, source.id)
        except RestApiError as exc:
            # The order still books; its refunds come with the next reconcile.
            log.warning("refunds of woocommerce order %s: %s", payload.get("id"), exc)
            await repository.reconcile_soon(pool, source.id, now)
    async with pool.acquire() as conn:
        applied = await apply.apply_order(conn, source, payload, refunds)
    return Received(200, f"{applied.new_facts} new facts", applied.enqueue)
