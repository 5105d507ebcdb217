"""The signed-API source on its own: each refusal names its reason (the endpoint's statuses
are `tests/web/test_ingest.py`'s), a verified delivery is the canonical event, and the one
ingest transaction answers a reused event id as a refusal with nothing stored."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from gateway.db import Pool
from gateway.vault import Vault
from tenants.shops.ingest_secrets import sign
from tenants.sources import signed_api
from tenants.sources.delivery import Refused, ingest
from tests.factories import make_shop
from tests.web.test_ingest import event


async def receive(pool: Pool, vault: Vault, body: dict[str, Any], **given: Any) -> Any:
    raw = json.dumps(body).encode()
    shop, secret, _ = await make_shop(pool, vault)
    arguments: dict[str, Any] = {
        "shop_id": str(shop.id),
        "signature": sign(secret, int(time.time()), raw),
        "body": raw,
        "now": datetime.now(UTC),
        "production": False,
    } | given
    async with pool.acquire() as conn:
        return await signed_api.receive(conn, vault, **arguments)


async def reason(pool: Pool, vault: Vault, body: dict[str, Any], **given: Any) -> Refused:
    with pytest.raises(Refused) as refused:
        await receive(pool, vault, body, **given)
    return refused.value


async def test_a_verified_delivery_is_the_canonical_event(pool: Pool, vault: Vault) -> None:
    body = event()
    delivery = await receive(pool, vault, body)
    assert (delivery.event.id, delivery.event.type) == (body["id"], "order.paid")
    assert delivery.event.order.total == Decimal(body["order"]["total"])
    assert delivery.fingerprint == json.dumps(body).encode()


async def test_each_refusal_names_its_reason(pool: Pool, vault: Vault) -> None:
    assert (await reason(pool, vault, event(), signature=None)).reason == "unauthenticated"
    assert (await reason(pool, vault, event(), signature="t=x")).reason == "malformed_proof"
    stale = f"t=1,v1={'0' * 64}"  # signed in 1970
    assert (await reason(pool, vault, event(), signature=stale)).reason == "unauthenticated"
    broken = event()
    del broken["order"]["currency"]
    invalid = await reason(pool, vault, broken)
    assert invalid.reason == "invalid"
    assert [e.pointer for e in invalid.errors] == ["/order/currency"]
    off = event()
    off["order"]["total"] = "1.00"
    assert (await reason(pool, vault, off)).reason == "inconsistent"
    export = event()
    export["order"]["customer"]["address"]["country"] = "US"
    assert (await reason(pool, vault, export)).reason == "vat_mismatch"


async def test_an_unknown_shop_is_refused_like_a_wrong_signature(pool: Pool, vault: Vault) -> None:
    unknown = await reason(pool, vault, event(), shop_id=str(uuid4()))
    not_a_shop = await reason(pool, vault, event(), shop_id="nope")
    wrong = await reason(pool, vault, event(), signature=f"t={int(time.time())},v1={'0' * 64}")
    assert {(r.reason, r.detail) for r in (unknown, not_a_shop, wrong)} == {
        ("unauthenticated", signed_api.NOT_AUTHENTIC)
    }


async def test_an_http_pdf_url_is_refused_in_production_only(pool: Pool, vault: Vault) -> None:
    body = event()
    body["order"]["invoice"] = {"number": "F-1", "pdf_url": "http://127.0.0.1/f.pdf"}
    assert (await receive(pool, vault, body)).event.order.invoice is not None
    refused = await reason(pool, vault, body, production=True)
    assert [e.pointer for e in refused.errors] == ["/order/invoice/pdf_url"]


async def test_a_reused_event_id_is_refused_and_nothing_is_stored(pool: Pool, vault: Vault) -> None:
    delivery = await receive(pool, vault, event())
    async with pool.acquire() as conn:
        first = await ingest(conn, delivery)
        again = await ingest(conn, delivery)
        assert (again.repeated, again.receipt) == (True, first.receipt)
        changed = type(delivery)(delivery.shop, delivery.event, delivery.fingerprint + b" ")
        with pytest.raises(Refused) as refused:
            await ingest(conn, changed)
    assert refused.value.reason == "event_id_reused"
