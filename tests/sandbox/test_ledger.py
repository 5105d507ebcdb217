"""One organisation's books, without HTTP: contacts, invoices and credit notes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from sandbox import rules
from sandbox.entries import CREDIT_NOTE, INVOICE, STALE_TIMESTAMP
from sandbox.errors import DineroApiError
from sandbox.ledger import Ledger
from tests.sandbox.books import add_contact, booked, create, line
from tests.sandbox.conftest import START, Clock

D = Decimal


def test_every_change_gives_a_new_timestamp(ledger: Ledger) -> None:
    document = create(ledger, ContactGuid=str(add_contact(ledger)))
    first = document.timestamp
    assert len(first) == 16 and int(first, 16) > 0
    ledger.book_document(INVOICE, document.guid, first, None)
    after_booking = document.timestamp
    assert after_booking > first
    pay = {"Timestamp": after_booking, "DepositAccountNumber": 55000, "RemainderIsFee": False}
    ledger.add_payment(
        INVOICE,
        document.guid,
        rules.bind(rules.PAYMENT_CREATE, {**pay, "Description": "x", "Amount": 10}),
    )
    assert document.timestamp > after_booking


def test_invoices_and_credit_notes_share_one_rising_number_series(ledger: Ledger) -> None:
    first = booked(ledger)
    note = booked(ledger, CREDIT_NOTE, CreditNoteFor=str(first.guid))
    second = booked(ledger)
    assert [first.number, note.number, second.number] == [1, 2, 3]


def test_booking_with_a_chosen_number_refuses_a_taken_one(ledger: Ledger) -> None:
    first = booked(ledger)
    draft = create(ledger, ContactGuid=str(first.contact_guid))
    with pytest.raises(DineroApiError, match="already taken"):
        ledger.book_document(INVOICE, draft.guid, draft.timestamp, first.number)
    assert ledger.book_document(INVOICE, draft.guid, draft.timestamp, 42).number == 42
    assert booked(ledger).number == 43


def test_a_stale_timestamp_is_error_58(ledger: Ledger) -> None:
    document = create(ledger, ContactGuid=str(add_contact(ledger)))
    with pytest.raises(DineroApiError) as caught:
        ledger.book_document(INVOICE, document.guid, "00000000020A5DFF", None)
    assert (caught.value.status, caught.value.code) == (400, STALE_TIMESTAMP)
    assert document.status == "Draft"


def test_booking_needs_a_contact(ledger: Ledger) -> None:
    document = create(ledger)
    with pytest.raises(DineroApiError) as caught:
        ledger.book_document(INVOICE, document.guid, document.timestamp, None)
    assert "ContactGuid" in caught.value.validation_errors


def test_a_credit_note_with_a_negative_total_is_refused(ledger: Ledger) -> None:
    with pytest.raises(DineroApiError, match="positive"):
        create(ledger, CREDIT_NOTE, ProductLines=[line(BaseAmountValue=D("-10"))])


def test_an_unpaid_invoice_past_its_payment_date_is_overdue(ledger: Ledger, clock: Clock) -> None:
    invoice = booked(ledger)
    assert ledger.payment_status(invoice) == "Booked"
    clock.now = START + timedelta(days=9)
    assert ledger.payment_status(invoice) == "Overdue"
