"""Payments on booked invoices and credit notes (`payments.py`), without HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox import rules
from sandbox.entries import INVOICE
from sandbox.errors import DineroApiError
from sandbox.ledger import Ledger
from tests.sandbox.books import booked

D = Decimal


def test_payments_count_in_the_document_currency_and_cannot_overpay(ledger: Ledger) -> None:
    invoice = booked(ledger, Currency="EUR")  # 100 EUR + 25 % = 125.00
    pay = {"DepositAccountNumber": 55000, "RemainderIsFee": False, "Description": "Betaling"}

    def payment(**fields: Any) -> dict[str, Any]:
        return rules.bind(rules.PAYMENT_CREATE, {**pay, "Timestamp": invoice.timestamp, **fields})

    with pytest.raises(DineroApiError) as caught:
        ledger.add_payment(INVOICE, invoice.guid, payment(Amount=D("745.00")))
    assert "AmountInForeignCurrency" in caught.value.validation_errors
    ledger.add_payment(
        INVOICE, invoice.guid, payment(Amount=D("745.00"), AmountInForeignCurrency=D("100.00"))
    )
    assert invoice.remaining == D("25.00")
    with pytest.raises(DineroApiError, match="exceeds"):
        ledger.add_payment(
            INVOICE, invoice.guid, payment(Amount=D("200.00"), AmountInForeignCurrency=D("25.01"))
        )
    assert ledger.payment_status(invoice) == "Booked"


def test_remainder_as_fee_settles_the_invoice(ledger: Ledger) -> None:
    invoice = booked(ledger)
    data = {
        "Timestamp": invoice.timestamp,
        "DepositAccountNumber": 55010,
        "RemainderIsFee": True,
        "Description": "Kort, minus gebyr",
        "Amount": D("122.50"),
    }
    payment = ledger.add_payment(INVOICE, invoice.guid, rules.bind(rules.PAYMENT_CREATE, data))
    assert payment.fee == D("2.50")
    assert invoice.remaining == 0
    assert ledger.payment_status(invoice) == "Paid"
