"""The ingest endpoint over HTTP: signatures, dedupe, problems, triggers, refunds, cancellation,
Redis down, concurrency, and the OpenAPI document that describes it."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.db import Pool
from gateway.queue import QUEUE_NAME
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import roll_ingest_secret, sign, signature
from tests.conftest import app_client
from tests.factories import make_shop
from web import ingest, openapi
from web.app import create_app

EVENTS = "/api/v1/shops/{}/events"


def event(event_type: str = "order.paid", **changes: Any) -> dict[str, Any]:
    """DESIGN.md's example event, with a fresh id; `changes` maps slash paths (from the
    event's root) to new values."""
    body = copy.deepcopy(openapi.EXAMPLE_EVENT)
    body["id"] = f"evt_{uuid4().hex[:12]}"
    body["type"] = event_type
    for path, value in changes.items():
        *parents, last = path.split("/")
        target: Any = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return body


def refund_event(refund_id: str, total: str, *, quantity: str = "1", **changes: Any) -> Any:
    """A refund of `quantity` socks (33.33 each) from the example order."""
    line = dict(openapi.EXAMPLE_EVENT["order"]["lines"][0], quantity=quantity)
    refund = {"id": refund_id, "lines": [line], "shipping": None, "total": total}
    return event("order.refunded", refund=refund, **changes)


async def post(
    client: httpx.AsyncClient,
    shop_id: UUID | str,
    secret: Secret,
    body: dict[str, Any] | bytes,
    *,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    t = int(time.time()) if timestamp is None else timestamp
    sent = {"Content-Type": "application/json", "Gateway-Signature": sign(secret, t, raw)}
    sent.update(headers or {})
    return await client.post(EVENTS.format(shop_id), content=raw, headers=sent)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


async def set_trigger(pool: Pool, shop_id: UUID, trigger: str) -> None:
    await pool.execute("UPDATE shops SET trigger = $2 WHERE id = $1", shop_id, trigger)


async def documents(pool: Pool, shop_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM documents WHERE shop_id = $1 ORDER BY id", shop_id)
    return [dict(r) for r in rows]


async def count(pool: Pool, table: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))


@pytest.fixture
async def shop(pool: Pool, vault: Vault) -> tuple[shops.Shop, Secret]:
    created, secret, _ = await make_shop(pool, vault)
    return created, secret


# --- signatures ------------------------------------------------------------------------------


async def test_a_signed_event_is_accepted_with_its_documents(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event()
    response = await post(client, shop[0].id, shop[1], body)
    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == "application/json"
    [document] = await documents(pool, shop[0].id)
    assert response.json() == {
        "event_id": body["id"],
        "order_id": "1001",
        "documents": [{"id": document["id"], "kind": "invoice", "state": "queued"}],
    }


async def test_a_wrong_signature_is_refused(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    response = await post(client, shop[0].id, Secret("whsec_wrong"), event())
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Gateway-Signature"
    assert await count(pool, "orders") == 0


async def test_a_body_changed_after_signing_is_refused(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    raw = json.dumps(event()).encode()
    t = int(time.time())
    response = await client.post(
        EVENTS.format(shop[0].id),
        content=raw.replace(b"128.99", b"128.98"),
        headers={"Content-Type": "application/json", "Gateway-Signature": sign(shop[1], t, raw)},
    )
    problem(response, 401)


# Ten seconds clear of the 300 s tolerance either way: the signed time is whole seconds and the
# server reads its clock later, so a skew of 301 could land on 300 across a second boundary.
@pytest.mark.parametrize("skew", [-310, 310, -3600])
async def test_a_timestamp_outside_the_tolerance_is_refused(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret], skew: int
) -> None:
    response = await post(client, shop[0].id, shop[1], event(), timestamp=int(time.time()) + skew)
    assert "300 seconds" in problem(response, 401)["detail"]


@pytest.mark.parametrize("skew", [-290, 290])
async def test_a_timestamp_inside_the_tolerance_is_accepted(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret], skew: int
) -> None:
    response = await post(client, shop[0].id, shop[1], event(), timestamp=int(time.time()) + skew)
    assert response.status_code == 202


async def test_a_missing_signature_is_refused(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    response = await client.post(
        EVENTS.format(shop[0].id),
        content=json.dumps(event()).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert "missing" in problem(response, 401)["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "v1=" + "0" * 64,  # no timestamp
        "t=1700000000",  # no signature
        "t=1700000000,v1=abc",  # not a SHA-256 hex digest
        "t=soon,v1=" + "0" * 64,
        "t=1,t=2,v1=" + "0" * 64,
        "garbage",
        "t=1700000000,v1=" + "0" * 64 + ",x" * 600,  # absurdly long
    ],
)
async def test_a_malformed_signature_header_is_a_400(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret], header: str
) -> None:
    response = await client.post(
        EVENTS.format(shop[0].id),
        content=json.dumps(event()).encode(),
        headers={"Content-Type": "application/json", "Gateway-Signature": header},
    )
    assert "malformed" in problem(response, 400)["detail"]


async def test_any_matching_v1_entry_is_enough(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    raw = json.dumps(event()).encode()
    t = int(time.time())
    wrong = signature(Secret("whsec_other"), t, raw)
    header = f"t={t},v1={wrong},v0=ignored,v1={signature(shop[1], t, raw).upper()}"
    response = await client.post(
        EVENTS.format(shop[0].id),
        content=raw,
        headers={"Content-Type": "application/json", "Gateway-Signature": header},
    )
    assert response.status_code == 202, response.text


async def test_the_previous_secret_works_during_the_overlap_only(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shop: tuple[shops.Shop, Secret]
) -> None:
    old = shop[1]
    async with pool.acquire() as conn:
        new = await roll_ingest_secret(conn, vault, shop[0].id, now=datetime.now(UTC))
    assert (await post(client, shop[0].id, old, event())).status_code == 202
    assert (await post(client, shop[0].id, new, event())).status_code == 202

    # The same roll a day and an hour ago: its overlap has ended.
    async with pool.acquire() as conn:
        newest = await roll_ingest_secret(
            conn, vault, shop[0].id, now=datetime.now(UTC) - timedelta(hours=25)
        )
    problem(await post(client, shop[0].id, new, event()), 401)
    assert (await post(client, shop[0].id, newest, event())).status_code == 202


async def test_an_unknown_shop_gets_the_same_401_as_a_wrong_signature(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event()
    wrong_signature = await post(client, shop[0].id, Secret("whsec_wrong"), body)
    unknown_shop = await post(client, uuid4(), shop[1], body)
    not_a_shop_id = await post(client, "not-a-uuid", shop[1], body)
    problem(wrong_signature, 401)
    for response in (unknown_shop, not_a_shop_id):
        assert response.status_code == 401
        assert response.content == wrong_signature.content
        assert response.headers["www-authenticate"] == "Gateway-Signature"


async def test_another_tenants_shop_id_with_this_shops_secret_is_refused(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shop: tuple[shops.Shop, Secret]
) -> None:
    other, _, _ = await make_shop(pool, vault)
    wrong_signature = await post(client, shop[0].id, Secret("whsec_wrong"), event())
    response = await post(client, other.id, shop[1], event())
    assert response.status_code == 401
    assert response.content == wrong_signature.content
    assert await count(pool, "orders") == 0


async def test_only_json_is_accepted(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    response = await post(
        client, shop[0].id, shop[1], event(), headers={"Content-Type": "text/plain"}
    )
    problem(response, 415)
    with_charset = {"Content-Type": "application/json; charset=utf-8"}
    response = await post(client, shop[0].id, shop[1], event(), headers=with_charset)
    assert response.status_code == 202


async def test_a_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event(**{"order/customer/name": "x" * ingest.MAX_BODY_BYTES})
    problem(await post(client, shop[0].id, shop[1], body), 413)

    # Without a Content-Length (chunked), the limit holds while reading.
    async def chunks() -> Any:
        for _ in range(ingest.MAX_BODY_BYTES // (64 * 1024) + 2):
            yield b"x" * 64 * 1024

    t = int(time.time())
    response = await client.post(
        EVENTS.format(shop[0].id),
        content=chunks(),
        headers={"Content-Type": "application/json", "Gateway-Signature": sign(shop[1], t, b"")},
    )
    problem(response, 413)


async def test_a_shop_invoice_pdf_may_come_inline_up_to_dineros_limit(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    pdf = b"%PDF-1.4\n" + bytes(5 * 1024 * 1024)
    invoice: dict[str, Any] = {"order/invoice": {"number": "F-1", "pdf_base64": ""}}
    invoice["order/invoice"]["pdf_base64"] = base64.b64encode(pdf).decode()
    response = await post(client, shop[0].id, shop[1], event(**invoice))
    assert response.status_code == 202, response.text
    stored = await pool.fetchval("SELECT payload->'invoice'->>'pdf_base64' FROM orders")
    assert base64.b64decode(stored) == pdf


async def test_an_http_pdf_url_is_refused_at_ingest_in_production_only(
    client: httpx.AsyncClient,
    settings: Settings,
    pool: Pool,
    vault: Vault,
    shop: tuple[shops.Shop, Secret],
) -> None:
    invoice: dict[str, Any] = {"order/invoice": {"number": "F-1", "pdf_url": "http://x/F-1.pdf"}}
    body = event(**invoice)
    production = replace(settings, env="production")
    async for prod_client in app_client(create_app(production)):
        refused = problem(await post(prod_client, shop[0].id, shop[1], body), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/order/invoice/pdf_url"]
    assert await count(pool, "orders") == 0
    # Outside production a shop on the same machine may serve it over http.
    assert (await post(client, shop[0].id, shop[1], body)).status_code == 202


# --- dedupe and validation -------------------------------------------------------------------


async def test_a_repeated_event_gets_the_first_answer_byte_for_byte(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event()
    first = await post(client, shop[0].id, shop[1], body)
    # Meanwhile the invoice moves on: the repeat still says what the first answer said.
    await pool.execute("UPDATE documents SET state = 'failed'")
    again = await post(client, shop[0].id, shop[1], body)
    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert await count(pool, "documents") == 1
    assert await count(pool, "deliveries") == 1


async def test_the_same_event_id_with_another_body_is_a_409(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event()
    await post(client, shop[0].id, shop[1], body)
    changed = copy.deepcopy(body)
    changed["order"]["number"] = "1001-B"
    response = await post(client, shop[0].id, shop[1], changed)
    assert body["id"] in problem(response, 409)["detail"]
    assert await pool.fetchval("SELECT number FROM orders") == "1001"


async def test_every_invalid_field_is_listed_and_nothing_is_stored(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event(
        **{
            "occurred_at": "yesterday",
            "order/currency": "KRONER",
            "order/lines/0/quantity": "-1",
            "order/customer/address/country": "XX",
        }
    )
    del body["order"]["customer"]["name"]
    response = await post(client, shop[0].id, shop[1], body)
    details = problem(response, 422)
    assert details["type"] == "/api/problems/invalid-event"
    pointers = {error["pointer"] for error in details["errors"]}
    assert pointers == {
        "/occurred_at",
        "/order/currency",
        "/order/lines/0/quantity",
        "/order/customer/address/country",
        "/order/customer/name",
    }
    assert all(error["detail"] for error in details["errors"])
    assert await count(pool, "deliveries") == 0
    assert await count(pool, "orders") == 0

    # The shop fixes the event and sends it again under the same id: it goes through.
    fixed = event(id=body["id"])
    assert (await post(client, shop[0].id, shop[1], fixed)).status_code == 202


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("order/customer/name", "Karen\x00Kunde", "NUL"),
        ("order/lines/0/name", "Sokker \ud800", "surrogate"),
        ("id", "evt\x00", "NUL"),
    ],
)
async def test_text_postgres_cannot_store_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    pool: Pool,
    shop: tuple[shops.Shop, Secret],
    field: str,
    value: str,
    said: str,
) -> None:
    """A NUL character, or a lone UTF-16 surrogate (JSON's `\\ud800`), is valid JSON but no
    text Postgres can store: refused with the field named, never a 500 that a platform
    would resend for ever."""
    body = event(**{field: value})
    response = await post(client, shop[0].id, shop[1], body)
    details = problem(response, 422)
    [error] = details["errors"]
    assert error["pointer"] == "/" + field
    assert said in error["detail"]
    assert await count(pool, "deliveries") == 0
    assert await count(pool, "orders") == 0


async def test_a_body_nested_too_deeply_is_a_422(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    raw = json.dumps(event()).encode()[:-1] + b', "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    details = problem(await post(client, shop[0].id, shop[1], raw), 422)
    assert details["errors"] == [{"pointer": "", "detail": "the body is nested too deeply"}]
    assert await count(pool, "deliveries") == 0


async def test_amounts_that_do_not_add_up_say_by_how_much(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    response = await post(client, shop[0].id, shop[1], event(**{"order/total": "130.00"}))
    details = problem(response, 422)
    assert details["type"] == "/api/problems/inconsistent-order"
    assert "a difference of 1.01" in details["detail"]
    assert [e["pointer"] for e in details["errors"]] == ["/order/total"]
    assert await count(pool, "orders") == 0


async def test_vat_that_does_not_fit_the_customer_is_refused(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    # A German business with a valid VAT number: reverse charge, so 25 % VAT is wrong.
    body = event(
        **{
            "order/customer/company": "Beispiel GmbH",
            "order/customer/vat_number": "DE136695976",
            "order/customer/address/country": "DE",
        }
    )
    details = problem(await post(client, shop[0].id, shop[1], body), 422)
    assert details["type"] == "/api/problems/vat-mismatch"
    pointers = [e["pointer"] for e in details["errors"]]
    assert pointers == ["/order/lines/0/vat_rate", "/order/shipping/vat_rate"]
    assert await count(pool, "deliveries") == 0


async def test_json_numbers_are_read_as_exact_decimals(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    raw = (
        json.dumps(event())
        .replace('"33.33"', "33.33")
        .replace('"128.99"', "128.99")
        .replace('"0.25"', "0.25")
        .encode()
    )
    assert b'"unit_price": 33.33' in raw
    response = await post(client, shop[0].id, shop[1], raw)
    assert response.status_code == 202, response.text
    row = await pool.fetchrow("SELECT total, payload FROM orders")
    assert row is not None
    assert row["total"] == Decimal("128.99")
    assert row["payload"]["total"] == "128.99"
    assert row["payload"]["lines"][0]["unit_price"] == "33.33"
    assert row["payload"]["lines"][0]["vat_rate"] == "0.25"
    assert await pool.fetchval("SELECT amount FROM documents") == Decimal("128.99")


# --- triggers --------------------------------------------------------------------------------


async def test_trigger_paid_waits_for_the_payment_and_enqueues_the_invoice(
    client: httpx.AsyncClient, pool: Pool, redis: ArqRedis, shop: tuple[shops.Shop, Secret]
) -> None:
    created = event("order.created", **{"order/paid_at": None})
    response = await post(client, shop[0].id, shop[1], created)
    assert response.json()["documents"] == []
    assert await count(pool, "orders") == 1
    assert await count(pool, "documents") == 0

    paid = event("order.paid", occurred_at="2026-11-24T10:01:00Z")
    response = await post(client, shop[0].id, shop[1], paid)
    [document] = await documents(pool, shop[0].id)
    assert response.json()["documents"] == [
        {"id": document["id"], "kind": "invoice", "state": "queued"}
    ]
    assert document["seq"] == 0
    assert document["amount"] == Decimal("128.99")
    assert document["currency"] == "DKK"
    assert document["payload"] == {}
    assert document["mode"] == "booked"
    assert document["organization_id"] is None
    assert document["external_reference"] == f"dg-{shop[0].id.hex[:12]}-inv-1001"
    job_id = f"documents.post:{document['id']}:0"
    assert await redis.exists(job_key_prefix + job_id)
    assert await redis.zscore(QUEUE_NAME, job_id) is not None


async def test_trigger_paid_takes_an_order_paid_event_without_paid_at(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    body = event("order.paid", **{"order/paid_at": None})
    await post(client, shop[0].id, shop[1], body)
    assert await pool.fetchval("SELECT paid_at FROM orders") == datetime(
        2026, 11, 24, 10, 0, tzinfo=UTC
    )
    assert await count(pool, "documents") == 1


async def test_trigger_created_invoices_the_first_event(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await set_trigger(pool, shop[0].id, "created")
    created = event("order.created", **{"order/paid_at": None})
    response = await post(client, shop[0].id, shop[1], created)
    assert [d["kind"] for d in response.json()["documents"]] == ["invoice"]
    # Later events find the invoice there and make no second one.
    await post(client, shop[0].id, shop[1], event("order.paid", occurred_at="2026-11-24T10:01:00Z"))
    await post(
        client, shop[0].id, shop[1], event("order.shipped", occurred_at="2026-11-24T10:02:00Z")
    )
    assert await count(pool, "documents") == 1


async def test_trigger_shipped_waits_for_the_shipment(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await set_trigger(pool, shop[0].id, "shipped")
    await post(client, shop[0].id, shop[1], event("order.paid"))
    assert await count(pool, "documents") == 0
    shipped = event("order.shipped", occurred_at="2026-11-24T12:00:00Z")
    response = await post(client, shop[0].id, shop[1], shipped)
    assert [d["kind"] for d in response.json()["documents"]] == ["invoice"]
    assert await pool.fetchval("SELECT shipped_at FROM orders") == datetime(
        2026, 11, 24, 12, 0, tzinfo=UTC
    )


async def test_a_stale_event_changes_nothing_but_is_answered_and_remembered(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    newer = event("order.created", occurred_at="2026-11-24T10:05:00Z", **{"order/paid_at": None})
    await post(client, shop[0].id, shop[1], newer)
    before = dict(await pool.fetchrow("SELECT * FROM orders") or {})
    stale = event("order.paid", occurred_at="2026-11-24T10:00:00Z", **{"order/number": "OLD"})
    response = await post(client, shop[0].id, shop[1], stale)
    assert response.status_code == 202
    assert response.json()["documents"] == []
    assert dict(await pool.fetchrow("SELECT * FROM orders") or {}) == before
    assert await count(pool, "documents") == 0
    assert await count(pool, "deliveries") == 2


# --- refunds and cancellation ----------------------------------------------------------------


async def test_partial_and_repeated_refunds_get_a_credit_note_each(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await post(client, shop[0].id, shop[1], event())
    [invoice] = await documents(pool, shop[0].id)

    first = refund_event("r1", "33.33", occurred_at="2026-11-25T10:00:00Z")
    response = await post(client, shop[0].id, shop[1], first)
    assert response.status_code == 202, response.text
    second = refund_event("r2", "66.66", quantity="2", occurred_at="2026-11-26T10:00:00Z")
    await post(client, shop[0].id, shop[1], second)
    # The same refund again under a new event id is no new credit note.
    await post(client, shop[0].id, shop[1], refund_event("r1", "33.33"))

    _, r1, r2 = await documents(pool, shop[0].id)
    refunds = {r["refund_id"]: r["id"] for r in await pool.fetch("SELECT * FROM refunds")}
    assert refunds.keys() == {"r1", "r2"}
    for note, ref, seq, amount in ((r1, "r1", 0, "33.33"), (r2, "r2", 1, "66.66")):
        assert note["kind"] == "credit_note"
        assert note["source_ref"] == ref
        assert note["seq"] == seq
        assert note["parent_id"] == invoice["id"]
        assert note["amount"] == Decimal(amount)
        assert note["payload"] == {"refund_id": refunds[ref]}
        assert note["state"] == "waiting"  # until its invoice is posted
        assert note["external_reference"] == f"dg-{shop[0].id.hex[:12]}-cn-1001-{seq}"


async def test_refunds_may_not_exceed_the_order_total(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await post(client, shop[0].id, shop[1], event())
    await post(client, shop[0].id, shop[1], refund_event("r1", "99.99", quantity="3"))
    response = await post(client, shop[0].id, shop[1], refund_event("r2", "66.66", quantity="2"))
    details = problem(response, 422)
    assert [e["pointer"] for e in details["errors"]] == ["/refund/total"]
    assert await count(pool, "refunds") == 1


async def test_a_refund_of_a_posted_invoice_is_queued_at_once(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await post(client, shop[0].id, shop[1], event())
    await pool.execute("UPDATE documents SET state = 'posted', step = 'booked', posted_at = now()")
    response = await post(client, shop[0].id, shop[1], refund_event("r1", "33.33"))
    assert [d["state"] for d in response.json()["documents"]] == ["posted", "queued"]


async def test_cancelling_before_posting_cancels_the_invoice(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await post(client, shop[0].id, shop[1], event())
    cancel = event("order.cancelled", occurred_at="2026-11-24T11:00:00Z")
    response = await post(client, shop[0].id, shop[1], cancel)
    assert [(d["kind"], d["state"]) for d in response.json()["documents"]] == [
        ("invoice", "cancelled")
    ]
    assert await pool.fetchval("SELECT cancelled_at FROM orders") is not None


async def test_cancelling_after_posting_credits_the_invoice_in_full(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    await post(client, shop[0].id, shop[1], event())
    await pool.execute("UPDATE documents SET state = 'posted', step = 'booked', posted_at = now()")
    cancel = event("order.cancelled", occurred_at="2026-11-24T11:00:00Z")
    await post(client, shop[0].id, shop[1], cancel)
    again = event("order.cancelled", occurred_at="2026-11-24T11:01:00Z")
    await post(client, shop[0].id, shop[1], again)

    invoice, note = await documents(pool, shop[0].id)
    assert invoice["state"] == "posted"
    assert note["kind"] == "credit_note"
    assert note["source_ref"] == "cancel"
    assert note["parent_id"] == invoice["id"]
    assert note["payload"] == {"full": True}
    assert note["amount"] == Decimal("128.99")
    assert note["state"] == "queued"  # its invoice is posted: nothing to wait for


# --- Redis, concurrency ----------------------------------------------------------------------


async def test_redis_down_still_accepts_and_leaves_the_row_queued(
    settings: Settings, pool: Pool, vault: Vault, shop: tuple[shops.Shop, Secret]
) -> None:
    down = replace(settings, redis_url="redis://127.0.0.1:1/0")
    async for client in app_client(create_app(down)):
        response = await post(client, shop[0].id, shop[1], event())
    assert response.status_code == 202
    [document] = await documents(pool, shop[0].id)
    assert document["state"] == "queued"
    assert document["next_attempt_at"] <= datetime.now(UTC)


async def test_concurrent_events_for_one_order_make_one_invoice(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    bodies = [
        event(
            ("order.paid", "order.shipped")[i % 2],
            occurred_at=(start + timedelta(seconds=i)).isoformat(),
        )
        for i in range(20)
    ]
    responses = await asyncio.gather(*(post(client, shop[0].id, shop[1], b) for b in bodies))
    assert [r.status_code for r in responses] == [202] * 20
    [invoice] = await documents(pool, shop[0].id)
    assert {r.json()["documents"][0]["id"] for r in responses} == {invoice["id"]}
    assert await pool.fetchval("SELECT last_event_at FROM orders") == start + timedelta(seconds=19)


async def test_the_same_event_twice_at_once_is_processed_once(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    body = json.dumps(event()).encode()
    responses = await asyncio.gather(*(post(client, shop[0].id, shop[1], body) for _ in range(5)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.content for r in responses}) == 1
    assert await count(pool, "documents") == 1


# --- the OpenAPI document --------------------------------------------------------------------


def _validator(name: str) -> Draft202012Validator:
    resource = Resource.from_contents(openapi.DOCUMENT, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:ingest-openapi", resource)
    return Draft202012Validator(
        {"$ref": f"urn:ingest-openapi#/components/schemas/{name}"}, registry=registry
    )


def _design_example() -> dict[str, Any] | None:
    design = Path(__file__).resolve().parents[3] / "shared" / "DESIGN.md"
    if not design.exists():
        return None
    text = design.read_text()
    match = re.search(r"```json\s*(\{\"id\": \"evt_01\".*?)```", text, re.S)
    assert match, "DESIGN.md's example event is not where it used to be"
    example: dict[str, Any] = json.loads(match.group(1))
    return example


async def test_the_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/shops/{shop_id}/events" in document["paths"]


def test_designs_example_event_validates_against_the_schema() -> None:
    validator = _validator("Event")
    validator.validate(openapi.EXAMPLE_EVENT)
    example = _design_example()
    if example is None:
        pytest.skip("../shared/DESIGN.md is not here")
    assert example == openapi.EXAMPLE_EVENT
    validator.validate(example)


@pytest.mark.parametrize(
    ("changes", "invalid_at"),
    [
        ({"order/total": 12.5}, None),  # a JSON number is allowed
        ({"order/total": "12,50"}, "total"),
        ({"type": "order.updated"}, "type"),
        ({"type": "order.refunded"}, "refund"),
        ({"order/lines": []}, "lines"),
        ({"order/customer/address/country": "DNK"}, "country"),
        ({"order/lines/0/vat_rate": "25"}, "vat_rate"),
    ],
)
def test_the_schema_refuses_what_the_parser_refuses(
    changes: dict[str, Any], invalid_at: str | None
) -> None:
    errors = list(_validator("Event").iter_errors(event(**changes)))
    if invalid_at is None:
        assert errors == []
    else:
        assert errors, "the schema accepted it"
        assert any(invalid_at in json.dumps(list(e.absolute_path)) + e.message for e in errors)


def test_every_schema_in_the_document_is_valid_json_schema() -> None:
    for name, schema in openapi.DOCUMENT["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert name[0].isupper()
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(openapi.DOCUMENT))
    assert set(refs) <= openapi.DOCUMENT["components"]["schemas"].keys()
    operation = openapi.DOCUMENT["paths"]["/api/v1/shops/{shop_id}/events"]["post"]
    for response in operation["responses"].values():
        for media in response["content"].values():
            Draft202012Validator.check_schema(media["schema"])


async def test_answers_and_problems_match_their_schemas(
    client: httpx.AsyncClient, shop: tuple[shops.Shop, Secret]
) -> None:
    accepted = await post(client, shop[0].id, shop[1], event())
    _validator("Accepted").validate(accepted.json())
    invalid = await post(client, shop[0].id, shop[1], event(**{"order/currency": "XXX1"}))
    unauthorised = await post(client, shop[0].id, Secret("whsec_wrong"), event())
    for response in (invalid, unauthorised):
        _validator("Problem").validate(response.json())
