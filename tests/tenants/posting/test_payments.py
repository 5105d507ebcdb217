"""Payments against the live sandbox over real HTTP: an order ingested as the shop would send
it (`record_event`), its documents posted one attempt at a time, what Dinero stored read
back through the sandbox's control endpoints, calls counted with the client's `on_call`
hook. Then Dinero's payment status confirmed by `documents.confirm_payments`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.orders import parse_event
from gateway.vault import Vault
from sandbox.entries import CREDIT_NOTE, INVOICE, DocumentKind
from sandbox.state import Faults
from tenants.dinero import payment_status
from tenants.dinero.poster import Poster
from tenants.orders import ingest as orders
from tenants.outbox import repository as outbox
from tenants.posting import payments as posting_payments
from tenants.posting.outcomes import Outcome
from tests.conftest import Call
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import make_document, make_order, row
from tests.tenants.posting.test_posting import ORG, due_now, post, shapes, stored
from tests.web.test_ingest import event, refund_event
from workers.settings import WorkerSettings

CARD = {
    "method": "card",
    "amount": "128.99",
    "paid_at": "2026-11-24T09:59:30Z",
    "reference": "ch_1",
}
ACCOUNTS = {"card": 55010, "mobilepay": 55020, "default": 55000}
UNPAID: dict[str, Any] = {"order/paid_at": None}
IN_EUROS: dict[str, Any] = {"order/currency": "EUR"}

pytestmark = pytest.mark.usefixtures("no_faults_left")


async def settling_shop(
    pool: Pool,
    vault: Vault,
    live: LiveSandbox,
    visma: VismaConnect,
    *,
    accounts: dict[str, Any] | None = None,
    **settings: str,
) -> orders.IngestShop:
    """A shop connected to the sandbox's organisation that registers payments."""
    shop, _ = await connect(pool, vault, live, visma)
    await pool.execute(
        "UPDATE shops SET register_payments = true, payment_accounts = $2 WHERE id = $1",
        shop.id,
        ACCOUNTS if accounts is None else accounts,
    )
    for column, value in settings.items():
        assert column in ("trigger", "mode")
        await pool.execute(f"UPDATE shops SET {column} = $2 WHERE id = $1", shop.id, value)
    found = await orders.shop_for_ingest(pool, vault, shop.id, datetime.now(UTC))
    assert found is not None
    return found


async def ingest(pool: Pool, shop: orders.IngestShop, body: dict[str, Any]) -> orders.Recorded:
    raw = json.dumps(body).encode()
    async with pool.acquire() as conn:
        return await orders.record_event(
            conn, shop, parse_event(raw), body_sha256=hashlib.sha256(raw).digest()
        )


def paid(external_id: str = "1001", payment: dict[str, Any] | None = CARD, **changes: Any) -> Any:
    """DESIGN.md's paid order under another id, with a `payment` object (or none)."""
    ids: dict[str, Any] = {
        "order/id": external_id,
        "order/number": external_id,
        "order/payment": payment,
    }
    return event(**ids, **changes)


async def post_all(poster: Poster, pool: Pool, shop_id: UUID) -> list[Outcome]:
    """Posts what is due, parents before children, until nothing is queued."""
    outcomes = []
    for _ in range(6):
        queued = await pool.fetch(
            "SELECT id FROM documents WHERE shop_id = $1 AND state = 'queued' ORDER BY id",
            shop_id,
        )
        if not queued:
            break
        for document in queued:
            await due_now(pool, document["id"])
            outcomes.append((await post(poster, document["id"])).outcome)
    return outcomes


async def documents_of(pool: Pool, shop_id: UUID, kind: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM documents WHERE shop_id = $1 AND kind = $2 ORDER BY id", shop_id, kind
    )
    return [dict(r) for r in rows]


async def stored_payments(http: httpx.AsyncClient, live: LiveSandbox) -> list[dict[str, Any]]:
    return await stored(http, live, "payments")


def remaining(live: LiveSandbox, guid: UUID, kind: DocumentKind = INVOICE) -> Decimal:
    return live.sandbox.ledger(ORG).document(kind, guid).remaining


# --- the happy paths ---------------------------------------------------------------------------


async def test_a_paid_order_ends_booked_and_paid_on_the_methods_account(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid())

    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED, Outcome.POSTED]

    [invoice] = await documents_of(pool, shop.id, "invoice")
    [payment] = await documents_of(pool, shop.id, "payment")
    assert (payment["state"], payment["step"], payment["backend_status"]) == (
        "posted",
        "paid",
        "Registered",
    )
    assert payment["settlement_account"] == 55010
    [stored_payment] = await stored_payments(http, sandbox_server)
    assert stored_payment["Guid"] == str(payment["backend_id"])
    assert stored_payment["DocumentGuid"] == str(invoice["backend_id"])
    assert Decimal(str(stored_payment["Amount"])) == Decimal("128.99")
    assert stored_payment["DepositAccountNumber"] == 55010
    assert stored_payment["ExternalReference"] == payment["external_reference"]
    assert stored_payment["PaymentDate"].startswith("2026-11-24")
    assert stored_payment["RemainderIsFee"] is False
    assert stored_payment["Description"] == "Betaling, ordre 1001"
    assert remaining(sandbox_server, invoice["backend_id"]) == 0
    # The payment is one call: the booking's timestamp was kept on the invoice's row.
    assert shapes(calls)[-1:] == ["POST invoices/payments"]
    assert shapes(calls).count("POST invoices/payments") == 1
    kinds = await pool.fetch("SELECT message FROM events WHERE document_id = $1", payment["id"])
    assert [k["message"] for k in kinds] == ["Payment of 128.99 DKK registered"]


async def test_a_method_without_its_own_account_goes_to_the_default_one(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(
        pool, vault, sandbox_server, visma, accounts={"card": 55010, "default": "55000"}
    )
    await ingest(pool, shop, paid(payment=dict(CARD, method="bank_transfer")))

    await post_all(poster, pool, shop.id)

    [payment] = await documents_of(pool, shop.id, "payment")
    assert (payment["state"], payment["settlement_account"]) == ("posted", 55000)
    [stored_payment] = await stored_payments(http, sandbox_server)
    assert stored_payment["DepositAccountNumber"] == 55000


async def test_without_an_account_the_payment_fails_until_the_owner_chooses_one(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma, accounts={"card": 55010})
    await ingest(pool, shop, paid(payment=dict(CARD, method="mobilepay")))

    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED, Outcome.FAILED]

    [payment] = await documents_of(pool, shop.id, "payment")
    assert (payment["state"], payment["last_error_code"]) == ("failed", "settings")
    assert (
        "Choose the deposit account payments go to for mobilepay payments"
        in (payment["last_error"])
    )
    assert await stored_payments(http, sandbox_server) == []

    await pool.execute(
        "UPDATE shops SET payment_accounts = $2 WHERE id = $1", shop.id, {"default": 55000}
    )
    assert await outbox.retry(pool, shop.id, payment["id"], now=datetime.now(UTC)) is not None
    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED]
    assert len(await stored_payments(http, sandbox_server)) == 1


async def test_a_refund_is_paid_back_on_its_credit_note(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(occurred_at="2026-11-24T10:00:00Z"))
    refund = refund_event("r1", "33.33", occurred_at="2026-11-25T10:00:00Z")
    refund["order"]["payment"] = CARD
    refund["refund"]["payment"] = {
        "method": "mobilepay",
        "amount": "33.33",
        "paid_at": "2026-11-25T10:00:00Z",
        "reference": "re_1",
    }
    await ingest(pool, shop, refund)

    outcomes = await post_all(poster, pool, shop.id)

    assert outcomes.count(Outcome.POSTED) == 4
    [note] = await documents_of(pool, shop.id, "credit_note")
    _, refund_payment = await documents_of(pool, shop.id, "payment")
    assert (refund_payment["state"], refund_payment["settlement_account"]) == ("posted", 55020)
    on_invoice, on_note = await stored_payments(http, sandbox_server)
    assert (on_invoice["DocumentType"], Decimal(str(on_invoice["Amount"]))) == (
        INVOICE,
        Decimal("128.99"),
    )
    assert (on_note["DocumentType"], Decimal(str(on_note["Amount"]))) == (
        CREDIT_NOTE,
        Decimal("33.33"),
    )
    assert on_note["DocumentGuid"] == str(note["backend_id"])
    assert on_note["Description"] == "Tilbagebetaling, ordre 1001"
    assert remaining(sandbox_server, note["backend_id"], CREDIT_NOTE) == 0


async def test_an_order_invoiced_before_it_was_paid_gets_its_payment_when_paid(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma, trigger="created")
    created = paid(payment=None, **UNPAID)
    created["type"] = "order.created"
    await ingest(pool, shop, created)
    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED]
    assert await documents_of(pool, shop.id, "payment") == []

    later = paid(**UNPAID)
    later["occurred_at"] = "2026-11-24T11:00:00Z"
    recorded = await ingest(pool, shop, later)

    [payment] = await documents_of(pool, shop.id, "payment")
    assert recorded.enqueue == (payment["id"],)
    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED]
    [invoice] = await documents_of(pool, shop.id, "invoice")
    assert remaining(sandbox_server, invoice["backend_id"]) == 0


# --- switched off ------------------------------------------------------------------------------


async def test_a_shop_that_does_not_register_payments_gets_none(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await pool.execute("UPDATE shops SET register_payments = false WHERE id = $1", shop.id)
    off = await orders.shop_for_ingest(pool, vault, shop.id, datetime.now(UTC))
    assert off is not None
    await ingest(pool, off, paid())

    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED]
    assert await documents_of(pool, shop.id, "payment") == []
    assert await stored_payments(http, sandbox_server) == []


async def test_payments_switched_off_before_posting_are_cancelled(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid())
    await pool.execute("UPDATE shops SET register_payments = false WHERE id = $1", shop.id)

    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED, Outcome.CANCELLED]

    [payment] = await documents_of(pool, shop.id, "payment")
    assert payment["state"] == "cancelled"
    assert await stored_payments(http, sandbox_server) == []
    message = await pool.fetchval(
        "SELECT message FROM events WHERE document_id = $1 ORDER BY id DESC LIMIT 1",
        payment["id"],
    )
    assert message == posting_payments.switched_off("Dinero")


# --- exactly once, and what Dinero refuses --------------------------------------------------


async def test_a_lost_payment_answer_is_read_back_and_not_paid_twice(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid())
    [invoice] = await documents_of(pool, shop.id, "invoice")
    [payment] = await documents_of(pool, shop.id, "payment")
    assert (await post(poster, invoice["id"])).outcome is Outcome.POSTED
    sandbox_server.sandbox.faults = Faults(drop_after_commit_rate=1.0)

    assert (await post(poster, payment["id"])).outcome is Outcome.DEFERRED

    after = await row(pool, payment["id"])
    assert (after["uncertain"], after["state"], after["settlement_account"]) == (
        True,
        "queued",
        55010,
    )
    assert len(await stored_payments(http, sandbox_server)) == 1  # it went through
    sandbox_server.sandbox.faults = Faults()
    await due_now(pool, payment["id"])
    calls.clear()

    assert (await post(poster, payment["id"])).outcome is Outcome.POSTED

    assert shapes(calls) == ["GET invoices/payments"]
    [stored_payment] = await stored_payments(http, sandbox_server)
    final = await row(pool, payment["id"])
    assert (final["state"], final["uncertain"]) == ("posted", False)
    assert final["backend_id"] == UUID(stored_payment["Guid"])
    assert remaining(sandbox_server, invoice["client_guid"]) == 0


async def test_an_over_payment_fails_with_dineros_message(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(payment=dict(CARD, amount="150.00")))

    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED, Outcome.FAILED]

    [payment] = await documents_of(pool, shop.id, "payment")
    assert payment["state"] == "failed"
    assert payment["last_error"].startswith("Dinero refused it: ")
    assert "exceeds the remaining amount" in payment["last_error"]
    assert await stored_payments(http, sandbox_server) == []


async def test_a_stale_timestamp_is_read_again_and_the_payment_sent_once_more(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(payment=dict(CARD, amount="100.00")))
    [invoice] = await documents_of(pool, shop.id, "invoice")
    [payment] = await documents_of(pool, shop.id, "payment")
    await post(poster, invoice["id"])
    # The invoice changed in Dinero since it was booked (a payment typed in by hand, say).
    await pool.execute(
        "UPDATE documents SET backend_version = '0000000000000001' WHERE id = $1", invoice["id"]
    )
    calls.clear()

    assert (await post(poster, payment["id"])).outcome is Outcome.POSTED

    assert shapes(calls) == ["POST invoices/payments", "GET invoices", "POST invoices/payments"]
    assert len(await stored_payments(http, sandbox_server)) == 1
    assert remaining(sandbox_server, invoice["client_guid"]) == Decimal("28.99")


async def test_a_payment_on_a_draft_invoice_fails_with_a_clear_message(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id, mode="draft")
    payment = await make_document(
        pool,
        shop.id,
        order_id,
        kind="payment",
        seq=1,
        source_ref="order",
        parent_id=invoice,
        state="waiting",
        payload={"method": "card", "paid_at": None, "reference": None},
    )
    assert (await post(poster, invoice)).outcome is Outcome.POSTED

    assert (await post(poster, payment)).outcome is Outcome.FAILED

    after = await row(pool, payment)
    assert after["last_error_code"] == "parent_draft"
    assert "The invoice is a draft in Dinero" in after["last_error"]


async def test_a_payment_on_an_invoice_in_another_currency_carries_both_amounts(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(**IN_EUROS))

    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED, Outcome.POSTED]

    [invoice] = await documents_of(pool, shop.id, "invoice")
    [stored_payment] = await stored_payments(http, sandbox_server)
    assert Decimal(str(stored_payment["Amount"])) == Decimal("128.99")  # in EUR
    assert Decimal(str(stored_payment["AmountInDkk"])) == Decimal("962.27")  # 7.46 DKK a euro
    assert remaining(sandbox_server, invoice["backend_id"]) == 0


# --- calls per booked-and-paid invoice -------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (
            "karen@example.dk",
            ["POST invoices", "POST invoices/book", "POST invoices/payments"],
        ),
        (
            "ole@example.dk",
            ["POST contacts", "POST invoices", "POST invoices/book", "POST invoices/payments"],
        ),
    ],
    ids=["returning", "new"],
)
async def test_a_booked_and_paid_invoice_costs_three_calls_or_four_for_a_new_customer(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
    email: str,
    expected: list[str],
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid("1"))
    await post_all(poster, pool, shop.id)  # the organisation's contacts are mirrored now
    calls.clear()

    await ingest(pool, shop, paid("2", **{"order/customer/email": cast(Any, email)}))
    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED, Outcome.POSTED]

    assert shapes(calls) == expected


# --- Dinero's payment status --------------------------------------------------------------------


def after_a_while() -> datetime:
    """When payments registered just now are due to be asked about."""
    return datetime.now(UTC) + payment_status.CONFIRM_AFTER


async def test_the_confirmation_stores_dineros_status_once_it_says_paid(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid("1"))
    await ingest(pool, shop, paid("2"))
    refund = refund_event("r1", "33.33", occurred_at="2026-11-24T10:30:00Z")
    refund["order"] = paid("2")["order"]
    await ingest(pool, shop, refund)
    await post_all(poster, pool, shop.id)
    calls.clear()
    # Right after posting nothing is asked: payments gather for one listing.
    early = await payment_status.confirm_payments(poster, now=datetime.now(UTC))
    assert early["organizations"] == 0 and calls == []

    counts = await payment_status.confirm_payments(poster, now=after_a_while())

    assert counts == {"organizations": 1, "confirmed": 3, "partly_paid": 0, "skipped": 0}
    # One listing per kind of document paid, whatever the number of payments.
    assert sorted(shapes(calls)) == ["GET invoices", "GET sales/creditnotes"]
    statuses = [p["backend_status"] for p in await documents_of(pool, shop.id, "payment")]
    assert statuses == ["Paid", "Paid", "Paid"]
    calls.clear()
    again = await payment_status.confirm_payments(poster, now=after_a_while())
    assert again["confirmed"] == 0
    assert calls == []  # nothing left to ask about


async def test_a_partly_paid_invoice_is_read_on_its_own_after_a_while(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(payment=dict(CARD, amount="100.00")))
    await post_all(poster, pool, shop.id)
    [payment] = await documents_of(pool, shop.id, "payment")

    calls.clear()
    soon = await payment_status.confirm_payments(poster, now=after_a_while())
    assert (soon["confirmed"], soon["partly_paid"]) == (0, 0)
    assert (await row(pool, payment["id"]))["backend_status"] == "Registered"
    assert shapes(calls) == ["GET invoices"]
    calls.clear()
    # Still unpaid, but just asked about: not asked again at every run.
    assert (await payment_status.confirm_payments(poster, now=after_a_while()))[
        "organizations"
    ] == 0
    assert calls == []

    later = datetime.now(UTC) + payment_status.FALLBACK_AFTER + timedelta(seconds=1)
    counts = await payment_status.confirm_payments(poster, now=later)

    assert counts["partly_paid"] == 1
    assert shapes(calls) == ["GET invoices", "GET invoices/payments"]
    assert (await row(pool, payment["id"]))["backend_status"] == "Booked"
    event_row = await pool.fetchrow(
        "SELECT message, data FROM events WHERE document_id = $1 ORDER BY id DESC LIMIT 1",
        payment["id"],
    )
    assert event_row is not None
    assert event_row["data"] == {"status": "Booked", "remaining": "28.99"}
    assert "28.99" in event_row["message"]


async def test_the_confirmation_leaves_an_organisation_alone_while_its_budget_is_busy(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid())
    await post_all(poster, pool, shop.id)
    calls.clear()

    async def busy(*_: Any, **__: Any) -> int:
        return payment_status.CONFIRM_RESERVE - 1

    monkeypatch.setattr(poster.budget, "free_slots", busy)
    counts = await payment_status.confirm_payments(poster, now=after_a_while())

    assert counts["skipped"] == 1
    assert calls == []


async def test_the_confirmation_is_a_unique_cron_job_of_the_worker(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    redis: ArqRedis,
) -> None:
    [job] = [c for c in WorkerSettings.cron_jobs if c.name == "documents.confirm_payments"]
    assert job.unique
    assert job.second == set(range(5, 60, payment_status.CONFIRM_EVERY))
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid())
    await post_all(poster, pool, shop.id)

    counts = await job.coroutine({"poster": poster, "redis": redis}, now=after_a_while())

    assert counts["confirmed"] == 1
    [payment] = await documents_of(pool, shop.id, "payment")
    assert payment["backend_status"] == "Paid"


async def test_a_cancellation_after_a_partial_refund_credits_and_pays_back_the_rest(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(occurred_at="2026-11-24T10:00:00Z"))
    await post_all(poster, pool, shop.id)
    refund = refund_event("r1", "33.33", occurred_at="2026-11-25T10:00:00Z")
    refund["order"] = paid(occurred_at="2026-11-25T10:00:00Z")["order"]
    await ingest(pool, shop, refund)
    cancel = paid(occurred_at="2026-11-26T10:00:00Z")
    cancel["type"] = "order.cancelled"
    await ingest(pool, shop, cancel)

    outcomes = await post_all(poster, pool, shop.id)

    assert outcomes == [Outcome.POSTED] * 4
    notes = await stored(http, sandbox_server, "creditnotes")
    assert sorted(Decimal(str(n["TotalInclVat"])) for n in notes) == [
        Decimal("33.33"),
        Decimal("95.66"),
    ]
    paid_back = [
        Decimal(str(p["Amount"]))
        for p in await stored_payments(http, sandbox_server)
        if p["DocumentType"] == CREDIT_NOTE
    ]
    assert sorted(paid_back) == [Decimal("33.33"), Decimal("95.66")]
    for note in notes:
        assert remaining(sandbox_server, UUID(note["Guid"]), CREDIT_NOTE) == 0


async def test_our_database_failing_after_dinero_answered_does_not_pay_twice(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid(payment=dict(CARD, amount="50.00")))
    [invoice] = await documents_of(pool, shop.id, "invoice")
    [payment] = await documents_of(pool, shop.id, "payment")
    assert (await post(poster, invoice["id"])).outcome is Outcome.POSTED
    real = outbox.record_step
    failed: list[int] = []

    async def blip(pool_: Any, document: Any, *, now: Any, **fields: Any) -> Any:
        if "backend_id" in fields and not failed:  # right after Dinero registered it
            failed.append(document.id)
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        return await real(pool_, document, now=now, **fields)

    monkeypatch.setattr(outbox, "record_step", blip)
    assert (await post(poster, payment["id"])).outcome is Outcome.DEFERRED
    assert (await row(pool, payment["id"]))["uncertain"]
    await due_now(pool, payment["id"])

    assert (await post(poster, payment["id"])).outcome is Outcome.POSTED

    assert failed == [payment["id"]]
    [registered] = await stored_payments(http, sandbox_server)
    assert Decimal(str(registered["Amount"])) == Decimal("50.00")


async def test_a_payment_after_the_cancellation_is_not_registered(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop = await settling_shop(pool, vault, sandbox_server, visma, trigger="created")
    unpaid = paid(payment=None, **UNPAID)
    await ingest(pool, shop, dict(unpaid, type="order.created"))
    await post_all(poster, pool, shop.id)
    cancelled = dict(unpaid, type="order.cancelled", id="evt-cancel")
    await ingest(pool, shop, dict(cancelled, occurred_at="2026-11-24T11:00:00Z"))
    late = dict(paid(), type="order.paid", id="evt-paid", occurred_at="2026-11-24T12:00:00Z")

    await ingest(pool, shop, late)

    assert await documents_of(pool, shop.id, "payment") == []
