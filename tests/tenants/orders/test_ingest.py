"""`tenants.orders.ingest` and `tenants.shops.ingest_secrets` as services: document rows per
the pipeline contract, references and guids, the canonical form, the enqueue budget, secret
rolling."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from gateway.db import Pool
from gateway.orders import InvalidEvent, parse_event, parse_order, parse_refund
from gateway.rotation import rotate_keys
from gateway.secret import Secret
from gateway.settings import Settings, TokenKey
from gateway.vault import Vault, VaultError, row_aad
from tenants.orders import ingest as orders
from tenants.shops import ingest_secrets
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import (
    MalformedSignature,
    ShopNotFound,
    parse_signature_header,
    roll_ingest_secret,
    secrets_for_verification,
)
from tests.factories import make_shop
from tests.web.test_ingest import event, refund_event

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def ingest_shop(pool: Pool, vault: Vault, **settings: str) -> orders.IngestShop:
    shop, _, _ = await make_shop(pool, vault)
    for column, value in settings.items():
        assert column in ("trigger", "mode", "document_kind")
        await pool.execute(f"UPDATE shops SET {column} = $2 WHERE id = $1", shop.id, value)
    found = await orders.shop_for_ingest(pool, vault, shop.id, NOW)
    assert found is not None
    return found


async def record(pool: Pool, shop: orders.IngestShop, body: dict[str, Any]) -> orders.Recorded:
    raw = json.dumps(body).encode()
    async with pool.acquire() as conn:
        return await orders.record_event(
            conn, shop, parse_event(raw), body_sha256=hashlib.sha256(raw).digest()
        )


async def documents(pool: Pool, shop: orders.IngestShop) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM documents WHERE shop_id = $1 ORDER BY id", shop.id)
    return [dict(r) for r in rows]


def at(minutes: int) -> str:
    return (datetime(2026, 11, 24, 10, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


# --- references, guids, canonical form -------------------------------------------------------


def test_client_guid_is_deterministic_and_differs_per_document() -> None:
    shop_id = UUID("00000000-0000-0000-0000-000000000001")
    invoice = orders.client_guid(shop_id, "1001", "invoice", seq=0)
    assert invoice == orders.client_guid(shop_id, "1001", "invoice", seq=0)
    assert invoice.version == 5
    others = {
        orders.client_guid(shop_id, "1002", "invoice", seq=0),
        orders.client_guid(uuid4(), "1001", "invoice", seq=0),
        orders.client_guid(shop_id, "1001", "credit_note", seq=0, source_ref="r1"),
        orders.client_guid(shop_id, "1001", "credit_note", seq=1, source_ref="cancel"),
    }
    assert invoice not in others
    assert len(others) == 4
    # The formula is the contract: P2 and any later migration must get the same value.
    assert invoice == uuid5(orders.GATEWAY_NAMESPACE, f"{shop_id}:1001:invoice:0")


def test_external_reference_names_shop_kind_order_and_seq() -> None:
    shop_id = UUID("0123456789abcdef0123456789abcdef")
    assert (
        orders.external_reference(shop_id, "1001", "invoice", seq=0) == "dg-0123456789ab-inv-1001"
    )
    assert (
        orders.external_reference(shop_id, "1001", "voucher", seq=0) == "dg-0123456789ab-vou-1001"
    )
    assert (
        orders.external_reference(shop_id, "1001", "credit_note", seq=2)
        == "dg-0123456789ab-cn-1001-2"
    )


def test_a_long_order_id_is_hashed_into_the_128_character_limit() -> None:
    shop_id = uuid4()
    long_id = "order-" + "x" * 200
    reference = orders.external_reference(shop_id, long_id, "credit_note", seq=12)
    assert len(reference) <= orders.MAX_REFERENCE
    assert reference.endswith("-12")
    assert hashlib.sha256(long_id.encode()).hexdigest()[:32] in reference
    other = orders.external_reference(shop_id, long_id + "y", "credit_note", seq=12)
    assert other != reference


def test_the_canonical_form_reads_back_as_the_same_order_and_refund() -> None:
    body = refund_event("r1", "33.33")
    body["order"]["customer"]["vat_number"] = "dk 13585628"
    body["order"]["payment"] = {"method": "card", "amount": 128.99, "paid_at": at(0)}
    parsed = parse_event(json.dumps(body).replace('"33.33"', "33.33"))
    assert parsed.refund is not None
    stored_order = json.loads(json.dumps(orders.canonical(parsed.order)))
    assert stored_order["customer"]["vat_number"] == "DK13585628"
    assert stored_order["lines"][0]["unit_price"] == "33.33"
    assert stored_order["created_at"] == "2026-11-24T09:58:00Z"
    assert parse_order(stored_order) == parsed.order
    stored_refund = json.loads(json.dumps(orders.canonical(parsed.refund)))
    assert parse_refund(stored_refund, prices_include_vat=True) == parsed.refund


# --- documents per the shop's settings -------------------------------------------------------


def test_no_voucher_reference_is_another_orders() -> None:
    shop_id = UUID("01234567-89ab-cdef-0123-456789abcdef")
    own = orders.external_reference(shop_id, "1001-1", "voucher", seq=0)
    reversal = orders.external_reference(shop_id, "1001", "voucher", seq=1)
    assert own != reversal
    assert reversal == "dg-0123456789ab-vou1-1001"


async def test_a_voucher_shop_gets_a_voucher_and_a_draft_shop_draft_documents(
    pool: Pool, vault: Vault
) -> None:
    shop = await ingest_shop(pool, vault, document_kind="voucher", mode="draft")
    recorded = await record(pool, shop, event())
    [document] = await documents(pool, shop)
    assert (document["kind"], document["mode"], document["state"]) == ("voucher", "draft", "queued")
    assert document["external_reference"].endswith("-vou-1001")
    assert recorded.enqueue == (document["id"],)


async def test_a_repeat_returns_the_stored_answer_and_enqueues_nothing(
    pool: Pool, vault: Vault
) -> None:
    shop = await ingest_shop(pool, vault)
    body = event()
    first = await record(pool, shop, body)
    again = await record(pool, shop, body)
    assert (first.repeated, again.repeated) == (False, True)
    assert again.receipt == first.receipt
    assert again.enqueue == ()
    changed = dict(body, occurred_at=at(1))
    with pytest.raises(orders.EventIdReused):
        await record(pool, shop, changed)


async def test_a_refund_before_the_invoice_is_credited_once_the_invoice_exists(
    pool: Pool, vault: Vault
) -> None:
    shop = await ingest_shop(pool, vault, trigger="shipped")
    await record(pool, shop, event("order.paid", occurred_at=at(0)))
    recorded = await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    assert recorded.receipt["documents"] == []
    assert await pool.fetchval("SELECT count(*) FROM refunds") == 1

    shipped = await record(pool, shop, event("order.shipped", occurred_at=at(2)))
    invoice, note = await documents(pool, shop)
    assert (invoice["kind"], invoice["state"]) == ("invoice", "queued")
    assert (note["kind"], note["state"], note["parent_id"]) == (
        "credit_note",
        "waiting",
        invoice["id"],
    )
    assert note["amount"] == Decimal("33.33")
    assert shipped.enqueue == (invoice["id"],)  # a waiting credit note is not enqueued


async def test_a_stale_refund_is_still_credited(pool: Pool, vault: Vault) -> None:
    shop = await ingest_shop(pool, vault)
    await record(pool, shop, event("order.shipped", occurred_at=at(10)))
    before = await pool.fetchval("SELECT last_event_at FROM orders")
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(5)))
    assert await pool.fetchval("SELECT last_event_at FROM orders") == before
    kinds = [d["kind"] for d in await documents(pool, shop)]
    assert kinds == ["invoice", "credit_note"]


async def test_cancelling_an_unstarted_invoice_cancels_its_credit_notes_too(
    pool: Pool, vault: Vault
) -> None:
    shop = await ingest_shop(pool, vault)
    await record(pool, shop, event(occurred_at=at(0)))
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    await record(pool, shop, event("order.cancelled", occurred_at=at(2)))
    assert [d["state"] for d in await documents(pool, shop)] == ["cancelled", "cancelled"]
    # A cancelled order gets nothing more: no new invoice, no credit note for a later refund.
    await record(pool, shop, event("order.paid", occurred_at=at(3)))
    await record(pool, shop, refund_event("r2", "33.33", occurred_at=at(4)))
    assert len(await documents(pool, shop)) == 2
    assert await pool.fetchval("SELECT count(*) FROM refunds") == 2


async def test_cancelling_an_order_without_an_invoice_creates_none(
    pool: Pool, vault: Vault
) -> None:
    shop = await ingest_shop(pool, vault)
    await record(pool, shop, event("order.created", occurred_at=at(0), **{"order/paid_at": None}))
    await record(pool, shop, event("order.cancelled", occurred_at=at(1)))
    await record(pool, shop, event("order.paid", occurred_at=at(2)))
    assert await documents(pool, shop) == []


@pytest.mark.parametrize(
    "started",
    [
        "step = 'created'",  # exists in Dinero as a draft
        "uncertain = true",  # may exist in Dinero
        "lease_owner = 'worker-1', lease_expires_at = now() + interval '1 minute'",
    ],
)
async def test_cancelling_an_invoice_in_progress_asks_for_a_credit_note_that_waits(
    pool: Pool, vault: Vault, started: str
) -> None:
    shop = await ingest_shop(pool, vault)
    await record(pool, shop, event(occurred_at=at(0)))
    await pool.execute(f"UPDATE documents SET {started}")
    recorded = await record(pool, shop, event("order.cancelled", occurred_at=at(1)))
    invoice, note = await documents(pool, shop)
    assert invoice["state"] == "queued"
    assert (note["source_ref"], note["state"], note["seq"]) == ("cancel", "waiting", 0)
    assert recorded.enqueue == ()


async def test_an_expired_lease_does_not_stop_a_cancellation(pool: Pool, vault: Vault) -> None:
    shop = await ingest_shop(pool, vault)
    await record(pool, shop, event(occurred_at=at(0)))
    await pool.execute(
        "UPDATE documents SET lease_owner = 'gone', lease_expires_at = now() - interval '1 s'"
    )
    await record(pool, shop, event("order.cancelled", occurred_at=at(1)))
    [invoice] = await documents(pool, shop)
    assert (invoice["state"], invoice["lease_owner"]) == ("cancelled", None)


async def test_the_reserved_refund_id_is_refused(pool: Pool, vault: Vault) -> None:
    shop = await ingest_shop(pool, vault)
    with pytest.raises(InvalidEvent) as raised:
        await record(pool, shop, refund_event("cancel", "33.33"))
    assert raised.value.errors[0].pointer == "/refund/id"
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0


async def test_only_so_many_queued_documents_per_shop_are_enqueued_directly(
    pool: Pool, vault: Vault
) -> None:
    shop = await ingest_shop(pool, vault)
    enqueued = []
    for n in range(orders.ENQUEUE_AHEAD + 2):
        recorded = await record(pool, shop, event(**{"order/id": f"o{n}"}))
        enqueued.append(bool(recorded.enqueue))
    assert enqueued == [True] * orders.ENQUEUE_AHEAD + [False, False]
    # Another shop is not held back by this one's backlog.
    other = await ingest_shop(pool, vault)
    assert (await record(pool, other, event())).enqueue != ()


# --- ingest secrets --------------------------------------------------------------------------


async def test_rolling_keeps_the_previous_secret_for_the_overlap(pool: Pool, vault: Vault) -> None:
    shop, first, _ = await make_shop(pool, vault)
    async with pool.acquire() as conn:
        second = await roll_ingest_secret(conn, vault, shop.id, now=NOW)
        assert second != first
        assert second.reveal().startswith(shops.SECRET_PREFIX)
        assert await secrets_for_verification(conn, vault, shop.id, NOW) == (second, first)
        later = NOW + ingest_secrets.DEFAULT_OVERLAP
        assert await secrets_for_verification(conn, vault, shop.id, later) == (second,)

        # Rolling again inside the overlap drops the oldest.
        third = await roll_ingest_secret(conn, vault, shop.id, now=NOW, overlap=timedelta(0))
        assert await secrets_for_verification(conn, vault, shop.id, NOW) == (third,)
        row = await conn.fetchrow("SELECT * FROM shops WHERE id = $1", shop.id)
    assert row is not None
    assert row["ingest_secret_previous_enc"] is None
    assert row["ingest_secret_rolled_at"] == NOW


async def test_the_previous_secret_is_bound_to_its_own_column(pool: Pool, vault: Vault) -> None:
    shop, first, _ = await make_shop(pool, vault)
    async with pool.acquire() as conn:
        await roll_ingest_secret(conn, vault, shop.id, now=NOW)
    stored = await pool.fetchval(
        "SELECT ingest_secret_previous_enc FROM shops WHERE id = $1", shop.id
    )
    aad = row_aad("shops", "ingest_secret_previous_enc", shop.id)
    assert vault.decrypt(stored, aad=aad) == first
    assert first.reveal() not in stored
    with pytest.raises(VaultError):
        vault.decrypt(stored, aad=shops.ingest_secret_aad(shop.id))


async def test_key_rotation_keeps_both_secrets_working(
    pool: Pool, vault: Vault, settings: Settings
) -> None:
    shop, first, _ = await make_shop(pool, vault)
    async with pool.acquire() as conn:
        second = await roll_ingest_secret(conn, vault, shop.id, now=NOW)
    newer = Vault([TokenKey("p1-rotation-test", os.urandom(32)), *settings.token_keys])
    await rotate_keys(pool, newer)
    row = await pool.fetchrow("SELECT * FROM shops WHERE id = $1", shop.id)
    assert row is not None
    assert newer.is_current(row["ingest_secret_enc"])
    assert newer.is_current(row["ingest_secret_previous_enc"])
    async with pool.acquire() as conn:
        assert await secrets_for_verification(conn, newer, shop.id, NOW) == (second, first)


async def test_rolling_an_unknown_shop_fails(pool: Pool, vault: Vault) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ShopNotFound):
            await roll_ingest_secret(conn, vault, uuid4(), now=NOW)
        assert await secrets_for_verification(conn, vault, uuid4(), NOW) == ()


def test_signature_headers_are_read_strictly() -> None:
    digest = "ab" * 32
    header = parse_signature_header(f"t=1700000000, v1={digest.upper()},v0=old,v1={digest}")
    assert header.timestamp == 1700000000
    assert header.signatures == (digest, digest)
    for bad in ("", "t=1", f"v1={digest}", f"t=-1,v1={digest}", f"t=1,v1={digest[:-1]}"):
        with pytest.raises(MalformedSignature):
            parse_signature_header(bad)


def test_a_signature_matches_only_its_body_time_and_secret() -> None:
    secret = Secret("whsec_test")
    header = parse_signature_header(ingest_secrets.sign(secret, 1700000000, b"{}"))
    assert ingest_secrets.matches(header, b"{}", [Secret("whsec_other"), secret])
    assert not ingest_secrets.matches(header, b"{ }", [secret])
    assert not ingest_secrets.matches(header, b"{}", [Secret("whsec_other")])
    assert not ingest_secrets.matches(header, b"{}", [])
    moved = ingest_secrets.SignatureHeader(1700000001, header.signatures)
    assert not ingest_secrets.matches(moved, b"{}", [secret])
