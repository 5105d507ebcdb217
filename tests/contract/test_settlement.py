"""Settling documents against the sandbox: payments, refunds, files and manual vouchers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from gateway.dinero.errors import TimestampOutdated, ValidationFailed
from gateway.dinero.models import (
    CreditNoteCreate,
    ManualVoucherCreate,
    ManualVoucherLine,
    PaymentCreate,
)
from tests.contract.conftest import PRO_ORG, Contract, booked_invoice, line

BANK = 55000
CARD_CLEARING = 55010
PAID_ON = date(2026, 11, 20)
# The smallest file the sandbox (like Dinero) accepts as a PDF: it looks at the magic bytes.
SMALL_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def a_payment(
    timestamp: str | None, amount: str, *, external_reference: str | None = None
) -> PaymentCreate:
    assert timestamp, "booking and every payment answer the document's new timestamp"
    return PaymentCreate(
        timestamp=timestamp,
        deposit_account_number=CARD_CLEARING,
        description="Betaling via kortindløser",
        amount=Decimal(amount),
        payment_date=PAID_ON,
        external_reference=external_reference or f"shop-1:payment-{uuid4().hex[:8]}",
    )


async def test_a_payment_with_the_booking_timestamp_settles_the_invoice(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    invoice = await booked_invoice(dinero, PRO_ORG, line("80.00", "2"))
    assert invoice.total_incl_vat == Decimal("200.00")

    payment = a_payment(invoice.timestamp, "200.00", external_reference="shop-1:payment-1")
    created = await dinero.register_invoice_payment(PRO_ORG, invoice.guid, payment)
    assert created.timestamp and created.timestamp != invoice.timestamp
    assert created.related_voucher_guid is not None

    listed = await dinero.invoice_payments(PRO_ORG, invoice.guid)
    assert [(p.guid, p.external_reference, p.amount) for p in listed.payments] == [
        (created.guid, "shop-1:payment-1", Decimal("200.00"))
    ]
    assert listed.payments[0].deposit_account_number == CARD_CLEARING
    assert listed.payments[0].payment_date == PAID_ON
    assert (listed.paid_amount, listed.remaining_amount) == (Decimal("200.00"), Decimal(0))
    paid = await dinero.get_invoice(PRO_ORG, invoice.guid)
    assert paid.payment_status == "Paid"
    assert paid.timestamp == created.timestamp

    stored = await contract.stored(PRO_ORG, "payments")
    assert [
        (p["Guid"], p["DocumentGuid"], p["Amount"], p["ExternalReference"]) for p in stored
    ] == [(str(created.guid), str(invoice.guid), Decimal("200.00"), "shop-1:payment-1")]


async def test_an_over_payment_is_refused(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    invoice = await booked_invoice(dinero, PRO_ORG, line("80.00", "2"))

    with pytest.raises(ValidationFailed) as raised:
        await dinero.register_invoice_payment(
            PRO_ORG, invoice.guid, a_payment(invoice.timestamp, "200.01")
        )
    assert not isinstance(raised.value, TimestampOutdated)
    assert (await dinero.invoice_payments(PRO_ORG, invoice.guid)).payments == ()
    assert await contract.stored(PRO_ORG, "payments") == []


async def test_each_payment_needs_the_timestamp_the_last_one_answered(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    invoice = await booked_invoice(dinero, PRO_ORG, line("80.00", "2"))
    first = await dinero.register_invoice_payment(
        PRO_ORG, invoice.guid, a_payment(invoice.timestamp, "50.00")
    )

    with pytest.raises(TimestampOutdated):
        await dinero.register_invoice_payment(
            PRO_ORG, invoice.guid, a_payment(invoice.timestamp, "50.00")
        )
    await dinero.register_invoice_payment(
        PRO_ORG, invoice.guid, a_payment(first.timestamp, "50.00")
    )

    listed = await dinero.invoice_payments(PRO_ORG, invoice.guid)
    assert (listed.paid_amount, listed.remaining_amount) == (Decimal("100.00"), Decimal("100.00"))
    assert len(await contract.stored(PRO_ORG, "payments")) == 2


async def test_a_refund_is_paid_out_on_the_booked_credit_note(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    invoice = await booked_invoice(dinero, PRO_ORG, line("80.00", "2"))
    credit = CreditNoteCreate(
        guid=uuid4(),
        credit_note_for=invoice.guid,
        contact_guid=invoice.contact_guid,
        product_lines=(line("80.00"),),
    )
    created = await dinero.create_credit_note(PRO_ORG, credit)
    assert created.timestamp
    note = await dinero.book_credit_note(PRO_ORG, created.guid, created.timestamp)
    assert note.total_incl_vat == Decimal("100.00")

    refund = a_payment(note.timestamp, "100.00", external_reference="shop-1:refund-1")
    paid_out = await dinero.register_credit_note_payment(PRO_ORG, created.guid, refund)

    listed = await dinero.credit_note_payments(PRO_ORG, created.guid)
    assert [(p.guid, p.external_reference) for p in listed.payments] == [
        (paid_out.guid, "shop-1:refund-1")
    ]
    assert listed.remaining_amount == Decimal(0)
    stored = await contract.stored(PRO_ORG, "payments")
    assert [(p["DocumentGuid"], p["DocumentType"]) for p in stored] == [
        (str(created.guid), "CreditNote")
    ]


async def test_a_balanced_manual_voucher_is_created_and_booked(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    # DINERO.md's example of a sale: the money on 55000, balanced by 1000 with U25.
    voucher = ManualVoucherCreate(
        voucher_date=PAID_ON,
        external_reference="shop-1:payout-7",
        lines=(
            ManualVoucherLine(
                description="Udbetaling fra kortindløser",
                account_number=BANK,
                balancing_account_number=1000,
                amount=Decimal("80.00"),
                balancing_account_vat_code="U25",
            ),
        ),
    )
    created = await dinero.create_manual_voucher(PRO_ORG, voucher)
    assert created.status == "Draft"
    assert (created.total_excl_vat, created.total_incl_vat) == (Decimal("80"), Decimal("100"))
    assert created.timestamp

    booked = await dinero.book_manual_voucher(PRO_ORG, created.guid, created.timestamp)
    assert (booked.guid, booked.status, booked.voucher_number) == (created.guid, "Booked", 1)
    assert (await dinero.get_manual_voucher(PRO_ORG, created.guid)).status == "Booked"

    stored = await contract.stored(PRO_ORG, "vouchers")
    assert [(v["Guid"], v["Status"], v["ExternalReference"]) for v in stored] == [
        (str(created.guid), "Booked", "shop-1:payout-7")
    ]
    # DINERO.md leaves open whether a positive amount debits AccountNumber; the sandbox's
    # answer, and the postings balance.
    postings = {p["AccountNumber"]: p["Amount"] for p in stored[0]["Lines"][0]["Postings"]}
    assert postings == {BANK: Decimal("100.00"), 1000: Decimal("-80.00"), 7200: Decimal("-20.00")}


async def test_a_voucher_is_found_through_the_file_it_was_created_with(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    file_guid = await dinero.upload_file(PRO_ORG, "afregning.pdf", SMALL_PDF, "application/pdf")
    voucher = ManualVoucherCreate(
        voucher_date=PAID_ON,
        file_guid=file_guid,
        lines=(
            ManualVoucherLine(
                description="Gebyr til kortindløser",
                account_number=2900,
                balancing_account_number=CARD_CLEARING,
                amount=Decimal("12.50"),
            ),
        ),
    )
    created = await dinero.create_manual_voucher(PRO_ORG, voucher)
    assert created.file_guid == file_guid
    assert created.timestamp
    await dinero.book_manual_voucher(PRO_ORG, created.guid, created.timestamp)

    files = await dinero.list_files(PRO_ORG)
    assert [(f.file_guid, f.name) for f in files] == [(file_guid, "afregning.pdf")]
    assert [link.voucher_guid for link in files[0].linked] == [created.guid]
    stored = await contract.stored(PRO_ORG, "vouchers")
    assert [(v["Guid"], v["FileName"]) for v in stored] == [(str(created.guid), "afregning.pdf")]


async def test_a_file_over_six_megabytes_is_refused_with_a_text_body(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    too_large = SMALL_PDF + b"0" * (7 * 1024 * 1024)

    with pytest.raises(ValidationFailed) as raised:
        await dinero.upload_file(PRO_ORG, "stor.pdf", too_large, "application/pdf")
    assert raised.value.status == 400
    assert "6 MB" in raised.value.message
    assert raised.value.code is None  # a text body: no code, no field errors
    assert await dinero.list_files(PRO_ORG) == []
    unused_pdfs = await dinero.list_files(
        PRO_ORG, file_status="Unused", extensions=("pdf",), uploaded_after=date(2026, 1, 1)
    )
    assert unused_pdfs == []
