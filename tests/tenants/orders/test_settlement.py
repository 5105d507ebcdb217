"""`tenants.orders.ingest.record_event` for settlement: which payment documents an event makes,
reversing vouchers in voucher mode, and a cancellation after refunds crediting only what
the refunds left."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.db import Pool
from gateway.orders import InvalidEvent
from gateway.vault import Vault
from tenants.orders import ingest as orders
from tests.factories import make_shop
from tests.tenants.orders.test_ingest import NOW, at, documents, record
from tests.web.test_ingest import event, refund_event

CARD = {
    "method": "card",
    "amount": "128.99",
    "paid_at": "2026-11-24T09:59:30Z",
    "reference": "ch_1",
}
BY_CARD: dict[str, Any] = {"order/payment": CARD}
NO_PAYMENT: dict[str, Any] = {"order/payment": None}


def changes(paths: dict[str, Any]) -> dict[str, Any]:
    """Slash paths for `event`, typed so they cannot be taken for its positional ones."""
    return paths


async def settling_shop(
    pool: Pool, vault: Vault, *, register_payments: bool = True, **settings: str
) -> orders.IngestShop:
    shop, _, _ = await make_shop(pool, vault)
    await pool.execute(
        "UPDATE shops SET register_payments = $2 WHERE id = $1", shop.id, register_payments
    )
    for column, value in settings.items():
        assert column in ("trigger", "mode", "document_kind")
        await pool.execute(f"UPDATE shops SET {column} = $2 WHERE id = $1", shop.id, value)
    found = await orders.shop_for_ingest(pool, vault, shop.id, NOW)
    assert found is not None
    assert found.register_payments is register_payments
    return found


def by_kind(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["kind"] == kind]


async def posted(pool: Pool, document_id: int) -> None:
    await pool.execute(
        "UPDATE documents SET state = 'posted', step = 'booked', posted_at = now() WHERE id = $1",
        document_id,
    )


# --- payments --------------------------------------------------------------------------------


async def test_a_paid_order_gets_its_invoice_and_a_payment_that_waits_for_it(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault)
    recorded = await record(pool, shop, event(**BY_CARD))

    invoice, payment = await documents(pool, shop)
    assert (invoice["kind"], invoice["state"]) == ("invoice", "queued")
    assert (payment["kind"], payment["seq"], payment["source_ref"]) == ("payment", 1, "order")
    assert (payment["parent_id"], payment["state"]) == (invoice["id"], "waiting")
    assert payment["amount"] == Decimal("128.99")
    assert payment["payload"] == {
        "method": "card",
        "paid_at": "2026-11-24T09:59:30Z",
        "reference": "ch_1",
    }
    assert payment["external_reference"].endswith("-pay-1001-1")
    assert recorded.enqueue == (invoice["id"],)  # the payment waits for its invoice


async def test_without_a_payment_object_the_payment_is_the_order_total_when_paid(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault)
    await record(pool, shop, event(**NO_PAYMENT))
    [payment] = by_kind(await documents(pool, shop), "payment")
    assert payment["amount"] == Decimal("128.99")
    assert payment["payload"] == {
        "method": None,
        "paid_at": "2026-11-24T09:59:00Z",
        "reference": None,
    }


async def test_the_event_may_say_another_amount(pool: Pool, vault: Vault) -> None:
    shop = await settling_shop(pool, vault)
    await record(pool, shop, event(**changes({"order/payment": dict(CARD, amount="100.00")})))
    [payment] = by_kind(await documents(pool, shop), "payment")
    assert payment["amount"] == Decimal("100.00")


async def test_an_order_invoiced_unpaid_gets_its_payment_when_order_paid_arrives(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, trigger="created")
    unpaid = changes({"order/paid_at": None, "order/payment": None})
    await record(pool, shop, event("order.created", occurred_at=at(0), **unpaid))
    [invoice] = await documents(pool, shop)
    await posted(pool, invoice["id"])
    shipped = await record(pool, shop, event("order.shipped", occurred_at=at(1), **unpaid))
    assert shipped.enqueue == ()
    assert len(await documents(pool, shop)) == 1

    paid = await record(
        pool,
        shop,
        event(
            "order.paid",
            occurred_at=at(2),
            **changes({"order/paid_at": None, "order/payment": CARD}),
        ),
    )

    [payment] = by_kind(await documents(pool, shop), "payment")
    assert (payment["state"], payment["parent_id"]) == ("queued", invoice["id"])
    assert paid.enqueue == (payment["id"],)
    # Another event of the paid order makes no second payment.
    await record(pool, shop, event("order.shipped", occurred_at=at(3), **BY_CARD))
    assert len(by_kind(await documents(pool, shop), "payment")) == 1


async def test_a_refund_of_a_paid_order_is_paid_back_on_its_credit_note(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault)
    await record(pool, shop, event(occurred_at=at(0), **BY_CARD))
    refund = refund_event("r1", "33.33", occurred_at=at(1), **BY_CARD)
    refund["refund"]["payment"] = {
        "method": "mobilepay",
        "amount": "33.33",
        "paid_at": at(1),
        "reference": "re_1",
    }
    await record(pool, shop, refund)
    refund_two = refund_event("r2", "33.33", occurred_at=at(2), **BY_CARD)
    await record(pool, shop, refund_two)

    rows = await documents(pool, shop)
    first_note, second_note = by_kind(rows, "credit_note")
    order_payment, first, second = by_kind(rows, "payment")
    assert order_payment["source_ref"] == "order"
    assert (first["source_ref"], first["parent_id"], first["seq"]) == (
        "refund:r1",
        first_note["id"],
        2,
    )
    assert first["amount"] == Decimal("33.33")
    assert first["payload"] == {
        "method": "mobilepay",
        "paid_at": "2026-11-24T10:01:00Z",
        "reference": "re_1",
    }
    # No payment object: the refund's total, back the way the order was paid, on its day.
    assert (second["source_ref"], second["parent_id"], second["seq"]) == (
        "refund:r2",
        second_note["id"],
        3,
    )
    assert second["payload"] == {
        "method": "card",
        "paid_at": "2026-11-24T10:02:00Z",
        "reference": None,
    }
    assert {first["state"], second["state"]} == {"waiting"}


async def test_a_refund_of_an_unpaid_order_gets_no_payment_even_once_paid(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, trigger="created")
    unpaid = changes({"order/paid_at": None, "order/payment": None})
    await record(pool, shop, event("order.created", occurred_at=at(0), **unpaid))
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1), **unpaid))
    assert [d["kind"] for d in await documents(pool, shop)] == ["invoice", "credit_note"]
    # Paid later: the invoice's payment, but no money went back for the earlier refund.
    await record(pool, shop, event("order.paid", occurred_at=at(2), **BY_CARD))
    [payment] = by_kind(await documents(pool, shop), "payment")
    assert payment["source_ref"] == "order"


@pytest.mark.parametrize(
    "changed",
    [
        {"register_payments": False},
        {"mode": "draft"},
        {"document_kind": "voucher"},
    ],
)
async def test_no_payment_documents_unless_the_shop_registers_payments_on_booked_invoices(
    pool: Pool, vault: Vault, changed: dict[str, Any]
) -> None:
    shop = await settling_shop(pool, vault, **changed)
    await record(pool, shop, event(occurred_at=at(0), **BY_CARD))
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    assert by_kind(await documents(pool, shop), "payment") == []


async def test_payments_switched_on_later_are_made_only_for_what_happens_from_then_on(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, register_payments=False)
    await record(pool, shop, event(occurred_at=at(0), **BY_CARD))
    shop = await settling_shop_again(pool, vault, shop)
    await record(pool, shop, event("order.shipped", occurred_at=at(1)))
    assert by_kind(await documents(pool, shop), "payment") == []
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(2)))
    [payment] = by_kind(await documents(pool, shop), "payment")
    assert payment["source_ref"] == "refund:r1"


async def settling_shop_again(
    pool: Pool, vault: Vault, shop: orders.IngestShop
) -> orders.IngestShop:
    await pool.execute("UPDATE shops SET register_payments = true WHERE id = $1", shop.id)
    found = await orders.shop_for_ingest(pool, vault, shop.id, NOW)
    assert found is not None
    return found


async def test_cancelling_an_unstarted_order_cancels_its_payments_too(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault)
    await record(pool, shop, event(occurred_at=at(0), **BY_CARD))
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    await record(pool, shop, event("order.cancelled", occurred_at=at(2)))
    assert {d["state"] for d in await documents(pool, shop)} == {"cancelled"}


async def test_a_cancellation_after_posting_pays_back_what_it_credits(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault)
    await record(pool, shop, event(occurred_at=at(0), **BY_CARD))
    invoice = by_kind(await documents(pool, shop), "invoice")[0]
    await posted(pool, invoice["id"])
    await record(pool, shop, event("order.cancelled", occurred_at=at(1)))
    [note] = by_kind(await documents(pool, shop), "credit_note")
    refund = [d for d in await documents(pool, shop) if d["source_ref"] == "refund:cancel"]
    assert [(d["parent_id"], d["amount"], d["state"]) for d in refund] == [
        (note["id"], Decimal("128.99"), "waiting")
    ]
    assert refund[0]["payload"]["method"] == "card"


# --- a cancellation after refunds -------------------------------------------------------------


async def test_a_cancellation_after_a_partial_refund_credits_only_the_remainder(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, register_payments=False)
    await record(pool, shop, event(occurred_at=at(0)))
    [invoice] = await documents(pool, shop)
    await posted(pool, invoice["id"])
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    await record(pool, shop, refund_event("r2", "66.66", quantity="2", occurred_at=at(2)))

    await record(pool, shop, event("order.cancelled", occurred_at=at(3)))

    notes = by_kind(await documents(pool, shop), "credit_note")
    refund_rows = await pool.fetch("SELECT id FROM refunds ORDER BY occurred_at")
    [cancel] = [n for n in notes if n["source_ref"] == "cancel"]
    assert cancel["amount"] == Decimal("29.00")
    assert cancel["payload"] == {
        "full": True,
        "remaining": "29.00",
        "refund_ids": [r["id"] for r in refund_rows],
    }
    assert cancel["seq"] == 2


async def test_a_cancellation_after_a_full_refund_creates_nothing(pool: Pool, vault: Vault) -> None:
    shop = await settling_shop(pool, vault, register_payments=False)
    await record(pool, shop, event(occurred_at=at(0)))
    [invoice] = await documents(pool, shop)
    await posted(pool, invoice["id"])
    # Everything back: three socks less the order's 10.00 discount, and the shipping.
    whole = refund_event("r1", "128.99", quantity="3", occurred_at=at(1))
    whole["refund"]["lines"][0]["discount"] = "10.00"
    whole["refund"]["shipping"] = whole["order"]["shipping"]
    await record(pool, shop, whole)

    await record(pool, shop, event("order.cancelled", occurred_at=at(2)))

    assert [n["source_ref"] for n in by_kind(await documents(pool, shop), "credit_note")] == ["r1"]


# --- voucher mode ------------------------------------------------------------------------------


async def test_a_refund_in_voucher_mode_is_a_reversing_voucher(pool: Pool, vault: Vault) -> None:
    shop = await settling_shop(pool, vault, document_kind="voucher")
    await record(pool, shop, event(occurred_at=at(0)))
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    await record(pool, shop, refund_event("r2", "33.33", occurred_at=at(2)))

    voucher, first, second = await documents(pool, shop)
    refund_ids = [r["id"] for r in await pool.fetch("SELECT id FROM refunds ORDER BY id")]
    assert (voucher["kind"], voucher["seq"], voucher["state"]) == ("voucher", 0, "queued")
    for reversing, seq, refund_id in ((first, 1, "r1"), (second, 2, "r2")):
        assert (reversing["kind"], reversing["seq"], reversing["source_ref"]) == (
            "voucher",
            seq,
            refund_id,
        )
        assert (reversing["parent_id"], reversing["state"]) == (voucher["id"], "waiting")
        assert reversing["amount"] == Decimal("33.33")
        assert reversing["external_reference"].endswith(f"-vou{seq}-1001")
    assert first["payload"] == {"refund_id": refund_ids[0]}
    assert voucher["external_reference"].endswith("-vou-1001")


async def test_cancelling_a_posted_voucher_reverses_what_the_refunds_left(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, document_kind="voucher")
    await record(pool, shop, event(occurred_at=at(0)))
    [voucher] = await documents(pool, shop)
    await posted(pool, voucher["id"])
    await record(pool, shop, event("order.cancelled", occurred_at=at(1)))
    [_, cancel] = await documents(pool, shop)
    assert (cancel["kind"], cancel["source_ref"], cancel["seq"]) == ("voucher", "cancel", 1)
    assert (cancel["payload"], cancel["amount"], cancel["state"]) == (
        {"full": True},
        Decimal("128.99"),
        "queued",
    )


async def test_cancelling_a_posted_voucher_after_a_refund(pool: Pool, vault: Vault) -> None:
    shop = await settling_shop(pool, vault, document_kind="voucher")
    await record(pool, shop, event(occurred_at=at(0)))
    [voucher] = await documents(pool, shop)
    await posted(pool, voucher["id"])
    await record(pool, shop, refund_event("r1", "33.33", occurred_at=at(1)))
    await record(pool, shop, event("order.cancelled", occurred_at=at(2)))
    cancel = (await documents(pool, shop))[-1]
    refund_id = await pool.fetchval("SELECT id FROM refunds")
    assert (cancel["source_ref"], cancel["seq"], cancel["amount"]) == (
        "cancel",
        2,
        Decimal("95.66"),
    )
    assert cancel["payload"] == {"full": True, "remaining": "95.66", "refund_ids": [refund_id]}


# --- voucher mode: the payment after the voucher ------------------------------------------------


async def test_a_voucher_order_paid_after_its_voucher_gets_a_payment_voucher(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, trigger="created", document_kind="voucher")
    unpaid = changes({"order/paid_at": None, "order/payment": None})
    await record(pool, shop, event("order.created", occurred_at=at(0), **unpaid))
    [voucher] = await documents(pool, shop)
    await posted(pool, voucher["id"])  # booked while unpaid: against the receivable account

    paid = await record(
        pool,
        shop,
        event(
            "order.paid",
            occurred_at=at(1),
            **changes({"order/paid_at": None, "order/payment": CARD}),
        ),
    )

    _, settlement = await documents(pool, shop)
    assert (settlement["kind"], settlement["seq"], settlement["source_ref"]) == (
        "voucher",
        1,
        "payment",
    )
    assert (settlement["parent_id"], settlement["state"]) == (voucher["id"], "queued")
    assert settlement["payload"] == {
        "method": "card",
        "paid_at": "2026-11-24T09:59:30Z",
        "reference": "ch_1",
        "settlement": True,
    }
    assert settlement["amount"] == Decimal("128.99")
    assert paid.enqueue == (settlement["id"],)
    # One only, and a later cancellation reverses the sale, not the payment voucher.
    await record(pool, shop, event("order.shipped", occurred_at=at(2), **BY_CARD))
    await record(pool, shop, event("order.cancelled", occurred_at=at(3), **BY_CARD))
    rows = await documents(pool, shop)
    assert [r["source_ref"] for r in rows] == [None, "payment", "cancel"]
    assert rows[2]["amount"] == Decimal("128.99")


async def test_no_payment_voucher_when_no_worker_had_begun_on_the_voucher(
    pool: Pool, vault: Vault
) -> None:
    shop = await settling_shop(pool, vault, trigger="created", document_kind="voucher")
    unpaid = changes({"order/paid_at": None, "order/payment": None})
    await record(pool, shop, event("order.created", occurred_at=at(0), **unpaid))
    await record(pool, shop, event("order.paid", occurred_at=at(1), **BY_CARD))
    # The worker will find the order paid and balance the voucher against the bank itself.
    [voucher] = await documents(pool, shop)
    assert voucher["kind"] == "voucher"


async def test_payment_is_a_reserved_refund_id(pool: Pool, vault: Vault) -> None:
    shop = await settling_shop(pool, vault, document_kind="voucher")
    await record(pool, shop, event(occurred_at=at(0)))
    with pytest.raises(InvalidEvent) as refused:
        await record(pool, shop, refund_event("payment", "33.33", occurred_at=at(1)))
    assert refused.value.errors[0].pointer == "/refund/id"


async def test_the_document_type_is_read_under_the_orders_lock(pool: Pool, vault: Vault) -> None:
    shop = await settling_shop(pool, vault)  # read as invoice mode, before the transaction
    await pool.execute("UPDATE shops SET document_kind = 'voucher' WHERE id = $1", shop.id)

    await record(pool, shop, event(occurred_at=at(0)))

    [document] = await documents(pool, shop)
    assert (document["kind"], document["seq"]) == ("voucher", 0)
