"""Voucher mode against the live sandbox over real HTTP: an order booked as a manual voucher
with its PDF attached, balanced against the account the money went to; refunds reversed;
exactly one voucher after lost answers; PDF refusals that stop only their own document."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

import httpx
import pytest

from gateway.accounting import AccountPlan, invoice_for
from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.dinero.vouchers import ManualVoucher
from gateway.orders import parse_order
from gateway.pdf import FetchPolicy
from gateway.vault import Vault
from sandbox.chart import SALES_VAT_ACCOUNT
from sandbox.state import Faults
from tenants.dinero.poster import Poster
from tenants.dinero.vouchers import _settlement_account_of
from tenants.outbox.models import Document
from tenants.posting.outcomes import Outcome
from tenants.posting.vouchers import owes_settlement
from tenants.shops.settings import ShopSettings
from tests.conftest import Call
from tests.gateway.test_pdf import PDF, Host, pdf_host_app
from tests.live import LiveSandbox, serve
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import (
    make_document,
    make_order,
    make_refund,
    order_body,
    refund_body,
    row,
)
from tests.tenants.posting.test_posting import ORG, due_now, post, shapes, stored

BANK, CLEARING, RECEIVABLE = 55000, 55010, 5800
LOCAL = FetchPolicy(allow_http=True, allow_loopback=True)


@pytest.fixture
async def pdf_host() -> AsyncIterator[Host]:
    host = Host("")
    async with serve(pdf_host_app(host)) as url:
        host.url = url
        yield host


pytestmark = pytest.mark.usefixtures("no_faults_left")


@pytest.fixture
def local_poster(poster: Poster) -> Poster:
    """The poster, allowed to fetch PDFs from the test's own loopback server."""
    return replace(poster, pdf_policy=LOCAL)


async def voucher_shop(
    pool: Pool,
    vault: Vault,
    live: LiveSandbox,
    visma: VismaConnect,
    *,
    receivable: int | None = RECEIVABLE,
) -> UUID:
    shop, _ = await connect(pool, vault, live, visma)
    await pool.execute(
        "UPDATE shops SET document_kind = 'voucher', payment_accounts = $2, "
        "receivable_account = $3 WHERE id = $1",
        shop.id,
        {"default": BANK, "card": CLEARING},
        receivable,
    )
    return shop.id


def voucher_order(external_id: str = "1001", **extra: Any) -> dict[str, Any]:
    body = order_body(external_id)
    body["payment"] = {
        "method": "card",
        "amount": "128.99",
        "paid_at": "2026-11-24T09:59:00Z",
        "reference": "pi_1",
    }
    body.update(extra)
    return body


async def voucher_document(
    pool: Pool, shop_id: UUID, body: dict[str, Any], *, mode: str = "booked"
) -> int:
    order_id = await make_order(pool, shop_id, body)
    return await make_document(pool, shop_id, order_id, kind="voucher", mode=mode)


def postings(voucher: dict[str, Any]) -> dict[int, Decimal]:
    """The voucher's postings per account, debit positive, as the sandbox booked them."""
    found: dict[int, Decimal] = {}
    for line in voucher["Lines"]:
        for posting in line["Postings"]:
            account = posting["AccountNumber"]
            found[account] = found.get(account, Decimal(0)) + Decimal(str(posting["Amount"]))
    return found


def files(live: LiveSandbox) -> list[Any]:
    return list(live.sandbox.ledger(ORG).vouchers.files.values())


# --- the happy paths ---------------------------------------------------------------------------


async def test_a_voucher_mode_order_is_booked_with_its_pdf(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    local_poster: Poster,
    calls: list[Call],
    pdf_host: Host,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    invoice = {"number": "F-2026-0042", "pdf_url": f"{pdf_host.url}/invoice.pdf"}
    body = voucher_order(invoice=invoice)
    document_id = await voucher_document(pool, shop_id, body)

    result = await post(local_poster, document_id)

    assert result.outcome is Outcome.POSTED
    # The upload, the voucher, the booking: three calls.
    assert shapes(calls) == ["POST files", "POST vouchers/manuel", "POST vouchers/manuel/book"]
    after = await row(pool, document_id)
    reference = after["external_reference"]
    assert (after["state"], after["step"], after["backend_status"]) == (
        "posted",
        "booked",
        "Booked",
    )
    assert after["backend_number"] == 1 and after["organization_id"] == ORG
    assert after["file_name"] == f"{reference}.pdf" and after["file_guid"]
    assert after["settlement_account"] == CLEARING  # paid by card
    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert (voucher["Status"], voucher["VoucherNumber"]) == ("Booked", 1)
    assert voucher["ExternalReference"] == reference
    assert voucher["FileName"] == f"{reference}.pdf"
    assert voucher["FileGuid"] == after["file_guid"]
    assert [f.size for f in files(sandbox_server)] == [len(PDF)]
    assert voucher["VoucherDate"] == "2026-11-24"
    # Balanced; the card clearing account debited the order total; the invoice's accounts and
    # VAT credited.
    booked = postings(voucher)
    assert sum(booked.values()) == 0
    assert booked[CLEARING] == Decimal("128.99")
    draft = invoice_for(
        parse_order(body),
        shop_name="x",
        text_template="{number}",
        plan=AccountPlan(),
        language="da-DK",
    )
    assert set(booked) == {CLEARING, SALES_VAT_ACCOUNT} | {li.account for li in draft.lines}
    assert -booked[SALES_VAT_ACCOUNT] == draft.totals.total_vat == Decimal("25.80")
    assert Decimal(str(voucher["TotalInclVat"])) == Decimal("128.99")
    for line in voucher["Lines"]:
        assert "F-2026-0042" in line["Description"]
        assert (line["AccountNumber"], line["BalancingAccountVatCode"]) == (CLEARING, None)


async def test_an_inline_pdf_is_attached(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    invoice = {"number": "F-7", "pdf_base64": base64.b64encode(PDF).decode()}
    document_id = await voucher_document(pool, shop_id, voucher_order(invoice=invoice))

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert voucher["Status"] == "Booked"
    assert voucher["FileName"] == (await row(pool, document_id))["file_name"]
    assert [f.size for f in files(sandbox_server)] == [len(PDF)]


async def test_an_order_without_a_pdf_gets_a_receipt(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    body = order_body()  # no payment method: the default deposit account
    document_id = await voucher_document(pool, shop_id, body)

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    [voucher] = await stored(http, sandbox_server, "vouchers")
    [attached] = files(sandbox_server)
    assert voucher["FileName"] == attached.name and attached.extension == "pdf"
    assert attached.size > 1000  # a rendered page, not a stub
    assert postings(voucher)[BANK] == Decimal("128.99")
    assert all("Ordre 1001" in line["Description"] for line in voucher["Lines"])


async def test_an_unpaid_order_is_balanced_against_the_receivable_account(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    document_id = await voucher_document(pool, shop_id, order_body())
    await pool.execute("UPDATE orders SET paid_at = NULL")

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert postings(voucher)[RECEIVABLE] == Decimal("128.99")
    assert (await row(pool, document_id))["settlement_account"] == RECEIVABLE


async def payment_voucher_of(pool: Pool, shop_id: UUID, order_id: int, sale: int) -> int:
    """The document ingest makes when a voucher-mode order is paid after its voucher."""
    return await make_document(
        pool,
        shop_id,
        order_id,
        kind="voucher",
        seq=1,
        source_ref="payment",
        parent_id=sale,
        state="waiting",
        payload={"settlement": True, "method": "card"},
        amount=Decimal("128.99"),
    )


async def test_a_payment_after_the_voucher_moves_the_money_off_the_receivable_account(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop_id, voucher_order())
    sale = await make_document(pool, shop_id, order_id, kind="voucher")
    await pool.execute("UPDATE orders SET paid_at = NULL")
    assert (await post(poster, sale)).outcome is Outcome.POSTED  # against the receivable
    await pool.execute("UPDATE orders SET paid_at = now()")  # then the customer pays
    payment = await payment_voucher_of(pool, shop_id, order_id, sale)
    await pool.execute("UPDATE documents SET state = 'queued' WHERE id = $1", payment)

    assert (await post(poster, payment)).outcome is Outcome.POSTED

    first, second = await stored(http, sandbox_server, "vouchers")
    assert second["Status"] == "Booked" and second["FileName"]
    assert postings(second) == {CLEARING: Decimal("128.99"), RECEIVABLE: Decimal("-128.99")}
    together = postings(first)
    for account, amount in postings(second).items():
        together[account] = together.get(account, Decimal(0)) + amount
    assert together[RECEIVABLE] == 0 and together[CLEARING] == Decimal("128.99")
    assert (await row(pool, payment))["settlement_account"] == CLEARING


async def test_no_payment_voucher_when_the_voucher_was_booked_against_the_bank(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop_id, voucher_order())
    sale = await make_document(pool, shop_id, order_id, kind="voucher")
    # The payment arrived before a worker reached the voucher: it went to the card account.
    payment = await payment_voucher_of(pool, shop_id, order_id, sale)
    released = await post(poster, sale)
    assert [r.id for r in released.released] == [payment]

    assert (await post(poster, payment)).outcome is Outcome.CANCELLED

    assert len(await stored(http, sandbox_server, "vouchers")) == 1
    message = await pool.fetchval(
        "SELECT message FROM events WHERE document_id = $1 AND kind = 'document.cancelled'",
        payment,
    )
    assert "deposit account already" in message


async def test_an_unpaid_order_without_a_receivable_account_fails_clearly(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma, receivable=None)
    document_id = await voucher_document(pool, shop_id, order_body())
    await pool.execute("UPDATE orders SET paid_at = NULL")

    assert (await post(poster, document_id)).outcome is Outcome.FAILED

    after = await row(pool, document_id)
    assert after["last_error_code"] == "settings"
    assert "choose the receivable account" in after["last_error"]
    assert calls == []


async def test_draft_mode_leaves_the_voucher_unbooked(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    document_id = await voucher_document(pool, shop_id, order_body(), mode="draft")

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    assert shapes(calls) == ["POST files", "POST vouchers/manuel"]
    after = await row(pool, document_id)
    assert (after["step"], after["backend_status"], after["backend_number"]) == (
        "created",
        "Draft",
        None,
    )
    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert voucher["Status"] == "Draft"


# --- reversals ---------------------------------------------------------------------------------


async def test_a_refund_books_a_reversing_voucher(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    body = voucher_order()
    order_id = await make_order(pool, shop_id, body)
    sale = await make_document(pool, shop_id, order_id, kind="voucher")
    refund = await make_refund(pool, shop_id, order_id, refund_body("r1"))
    reversal = await make_document(
        pool,
        shop_id,
        order_id,
        kind="voucher",
        seq=1,
        source_ref="r1",
        parent_id=sale,
        state="waiting",
        payload={"refund_id": refund},
        amount=Decimal("33.33"),
    )

    released = await post(poster, sale)
    assert [r.id for r in released.released] == [reversal]
    assert (await post(poster, reversal)).outcome is Outcome.POSTED

    first, second = await stored(http, sandbox_server, "vouchers")
    assert second["Status"] == "Booked" and second["VoucherNumber"] == 2
    booked = postings(second)
    assert booked[CLEARING] == Decimal("-33.33")  # the card's money back out
    assert booked[1000] == Decimal("26.66") and booked[SALES_VAT_ACCOUNT] == Decimal("6.67")
    [line] = second["Lines"]
    assert (line["AccountNumber"], line["BalancingAccountNumber"]) == (1000, CLEARING)
    assert "Refusion r1" in line["Description"]
    after = await row(pool, reversal)
    assert after["file_name"] == f"{after['external_reference']}.pdf"
    assert second["FileName"] != first["FileName"]


async def test_a_cancellation_reverses_what_the_refunds_left(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop_id, voucher_order())
    await pool.execute("UPDATE orders SET cancelled_at = now() WHERE id = $1", order_id)
    sale = await make_document(pool, shop_id, order_id, kind="voucher")
    cancel = await make_document(
        pool,
        shop_id,
        order_id,
        kind="voucher",
        seq=2,
        source_ref="cancel",
        parent_id=sale,
        state="waiting",
        payload={"full": True, "remaining": "95.66", "refund_ids": [1]},
        amount=Decimal("95.66"),
    )
    await post(poster, sale)

    assert (await post(poster, cancel)).outcome is Outcome.POSTED

    _, reversal = await stored(http, sandbox_server, "vouchers")
    booked = postings(reversal)
    assert booked[CLEARING] == Decimal("-95.66") and sum(booked.values()) == 0


async def test_a_reversal_of_a_draft_voucher_stays_a_draft(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop_id, voucher_order())
    sale = await make_document(pool, shop_id, order_id, kind="voucher", mode="draft")
    refund = await make_refund(pool, shop_id, order_id, refund_body("r1"))
    reversal = await make_document(
        pool,
        shop_id,
        order_id,
        kind="voucher",
        seq=1,
        parent_id=sale,
        state="waiting",
        payload={"refund_id": refund},
    )
    await post(poster, sale)

    assert (await post(poster, reversal)).outcome is Outcome.POSTED

    assert [v["Status"] for v in await stored(http, sandbox_server, "vouchers")] == [
        "Draft",
        "Draft",
    ]


# --- exactly once --------------------------------------------------------------------------------


async def test_lost_answers_to_the_upload_and_the_create_make_exactly_one_voucher(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    document_id = await voucher_document(pool, shop_id, voucher_order())
    sandbox_server.sandbox.faults = Faults(drop_after_commit_rate=1.0)

    # The upload goes through, its answer is lost.
    assert (await post(poster, document_id)).outcome is Outcome.DEFERRED
    after = await row(pool, document_id)
    assert (after["step"], after["uncertain"], after["file_guid"]) == ("new", True, None)
    await due_now(pool, document_id)
    calls.clear()

    # The file is found by its name, not uploaded again; the create's answer is lost too.
    assert (await post(poster, document_id)).outcome is Outcome.DEFERRED
    assert shapes(calls) == ["GET files", "POST vouchers/manuel"]
    after = await row(pool, document_id)
    assert (after["step"], after["uncertain"]) == ("file", True)
    assert after["file_guid"] == files(sandbox_server)[0].guid
    sandbox_server.sandbox.faults = Faults()
    await due_now(pool, document_id)
    calls.clear()

    # The voucher is found through the file's link, read, and booked.
    assert (await post(poster, document_id)).outcome is Outcome.POSTED
    assert shapes(calls) == ["GET files", "GET vouchers/manuel", "POST vouchers/manuel/book"]
    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert voucher["Status"] == "Booked"
    assert len(files(sandbox_server)) == 1
    assert (await row(pool, document_id))["backend_id"] == UUID(voucher["Guid"])


async def test_a_voucher_found_after_a_lost_create_keeps_the_account_it_was_made_with(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop_id, voucher_order())
    sale = await make_document(pool, shop_id, order_id, kind="voucher")
    await pool.execute("UPDATE orders SET paid_at = NULL")
    sandbox_server.sandbox.faults = Faults(drop_after_commit_rate=1.0)
    assert (await post(poster, sale)).outcome is Outcome.DEFERRED  # the upload's answer lost
    await due_now(pool, sale)
    # Made against the receivable account (unpaid), but the answer is lost ...
    assert (await post(poster, sale)).outcome is Outcome.DEFERRED
    assert (await row(pool, sale))["step"] == "file"
    sandbox_server.sandbox.faults = Faults()
    # ... and the customer pays before the next attempt.
    await pool.execute("UPDATE orders SET paid_at = now()")
    await due_now(pool, sale)

    assert (await post(poster, sale)).outcome is Outcome.POSTED

    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert postings(voucher)[RECEIVABLE] == Decimal("128.99")
    # The row says what Dinero holds, so the payment voucher knows what to clear.
    assert (await row(pool, sale))["settlement_account"] == RECEIVABLE


async def test_a_lost_booking_answer_is_read_back_not_booked_twice(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    document_id = await voucher_document(pool, shop_id, voucher_order())
    # Someone else is booking in the organisation: the voucher is created, then waits.
    token = await poster.bookings.acquire(ORG)
    assert token is not None
    await post(replace(poster, booking_wait=0.0), document_id)
    assert (await row(pool, document_id))["step"] == "created"
    await poster.bookings.release(ORG, token)
    sandbox_server.sandbox.faults = Faults(drop_after_commit_rate=1.0)
    await due_now(pool, document_id)
    assert (await post(poster, document_id)).outcome is Outcome.DEFERRED
    sandbox_server.sandbox.faults = Faults()
    await due_now(pool, document_id)
    calls.clear()

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    # Booking again says "already booked": read back, done.
    assert shapes(calls) == ["POST vouchers/manuel/book", "GET vouchers/manuel"]
    [voucher] = await stored(http, sandbox_server, "vouchers")
    assert voucher["VoucherNumber"] == 1
    assert (await row(pool, document_id))["backend_number"] == 1


# --- PDF refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "policy", "reason"),
    [
        ("/invoice.pdf", None, "is not https"),
        ("/invoice.pdf", FetchPolicy(allow_http=True), "loopback address"),
        ("/big.pdf", LOCAL, "larger than 6 MiB"),
        ("/page.html", LOCAL, "not a PDF"),
        ("/to-private", LOCAL, "private address"),
    ],
)
async def test_a_refused_pdf_fails_its_document_and_the_next_one_posts(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
    pdf_host: Host,
    path: str,
    policy: FetchPolicy | None,
    reason: str,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    invoice = {"number": "F-1", "pdf_url": f"{pdf_host.url}{path}?token=SECRET"}
    refused = await voucher_document(pool, shop_id, voucher_order("1", invoice=invoice))
    fine = await voucher_document(pool, shop_id, voucher_order("2"))
    guarded = replace(poster, pdf_policy=policy)

    assert (await post(guarded, refused)).outcome is Outcome.FAILED
    after = await row(pool, refused)
    assert after["last_error_code"] == "pdf"
    assert after["last_error"].startswith("The invoice PDF was refused: ")
    assert reason in after["last_error"] and "SECRET" not in after["last_error"]
    assert calls == []  # nothing reached Dinero

    assert (await post(guarded, fine)).outcome is Outcome.POSTED
    assert len(await stored(http, sandbox_server, "vouchers")) == 1


async def test_a_pdf_host_that_is_down_is_tried_again_later(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    local_poster: Poster,
    pdf_host: Host,
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    invoice = {"number": "F-1", "pdf_url": f"{pdf_host.url}/busy.pdf"}
    document_id = await voucher_document(pool, shop_id, voucher_order(invoice=invoice))

    assert (await post(local_poster, document_id)).outcome is Outcome.DEFERRED

    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["last_error_code"]) == ("queued", 1, "pdf")
    assert "HTTP 503" in after["last_error"]
    assert after["next_attempt_at"] > datetime.now(UTC)

    # After enough attempts it is the owner's to see.
    await pool.execute("UPDATE documents SET failures = 5 WHERE id = $1", document_id)
    await due_now(pool, document_id)
    assert (await post(local_poster, document_id)).outcome is Outcome.FAILED
    assert "could not be fetched in 6 attempts" in (await row(pool, document_id))["last_error"]


async def test_a_foreign_currency_order_cannot_be_a_voucher(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    body = json.loads(json.dumps(order_body()))
    body["currency"] = "EUR"
    document_id = await voucher_document(pool, shop_id, body)

    assert (await post(poster, document_id)).outcome is Outcome.FAILED
    after = await row(pool, document_id)
    assert after["last_error_code"] == "currency" and "DKK" in after["last_error"]


async def test_a_file_dinero_does_not_know_yet_is_tried_again_soon(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    """DINERO.md: an uploaded file "may take a second to become usable". Here the row says
    a file was uploaded that the organisation does not (yet) know."""
    shop_id = await voucher_shop(pool, vault, sandbox_server, visma)
    document_id = await voucher_document(pool, shop_id, voucher_order())
    await pool.execute(
        "UPDATE documents SET step = 'file', file_guid = 'webnotusableyet', "
        "file_name = 'x.pdf', organization_id = $2 WHERE id = $1",
        document_id,
        ORG,
    )

    assert (await post(poster, document_id)).outcome is Outcome.DEFERRED

    after = await row(pool, document_id)
    assert (after["state"], after["last_error_code"]) == ("queued", "file_not_ready")
    assert shapes(calls) == ["POST vouchers/manuel"]
    assert await stored(http, sandbox_server, "vouchers") == []


# --- what the row says a voucher is balanced against -------------------------------------------


def _read_voucher(*sides: tuple[int, int]) -> ManualVoucher:
    lines = [SimpleNamespace(account_number=a, balancing_account_number=b) for a, b in sides]
    return cast(ManualVoucher, SimpleNamespace(lines=lines))


def test_the_account_a_found_voucher_is_balanced_against_is_the_one_every_line_touches() -> None:
    # A sale with a negative rounding line (its sides swapped) is still on the receivable.
    sale = _read_voucher((RECEIVABLE, 1000), (RECEIVABLE, 1350), (1050, RECEIVABLE))
    assert _settlement_account_of(sale, reversing=False) == RECEIVABLE
    reversal = _read_voucher((1000, CLEARING), (1350, CLEARING))
    assert _settlement_account_of(reversal, reversing=True) == CLEARING
    one_line = _read_voucher((1000, CLEARING))
    assert _settlement_account_of(one_line, reversing=True) == CLEARING
    assert _settlement_account_of(_read_voucher((RECEIVABLE, 1000)), reversing=False) == RECEIVABLE


def test_a_payment_voucher_is_owed_by_what_the_voucher_was_balanced_against() -> None:
    shop = ShopSettings(
        name="S",
        trigger="created",
        mode="booked",
        invoice_text="",
        language="da-DK",
        account_overrides={},
        ingest_secret_rolled_at=datetime.now(UTC),
        ingest_secret_previous_until=None,
        register_payments=False,
        document_kind="voucher",
        connection_id=None,
        organization_id=None,
        payment_accounts={"default": BANK, "card": CLEARING},
        receivable_account=5830,  # changed by the owner since the voucher was booked
    )
    payment = cast(Document, SimpleNamespace(payload={"settlement": True}))
    on_receivable = cast(Document, SimpleNamespace(settlement_account=RECEIVABLE))
    on_card = cast(Document, SimpleNamespace(settlement_account=CLEARING))
    assert owes_settlement(payment, on_receivable, shop)
    assert not owes_settlement(payment, on_card, shop)
    reversal = cast(Document, SimpleNamespace(payload={"refund_id": 1}))
    assert owes_settlement(reversal, on_card, shop)
