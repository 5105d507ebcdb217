"""Shorthands for filling one organisation's books without HTTP (the `ledger` fixture is in
`conftest`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from sandbox import rules
from sandbox.entries import CREDIT_NOTE, INVOICE
from sandbox.ledger import Ledger, SalesDocument

D = Decimal


def line(**overrides: Any) -> dict[str, Any]:
    return {
        "BaseAmountValue": D("100"),
        "Quantity": D("1"),
        "AccountNumber": 1000,
        "Discount": D("0"),
        "Description": "Sokker",
        "Unit": "parts",
        **overrides,
    }


def add_contact(ledger: Ledger) -> UUID:
    data = rules.bind(
        rules.CONTACT_CREATE,
        {"Name": "Acme", "CountryKey": "DK", "IsPerson": False, "IsMember": False, "UseCvr": False},
    )
    return ledger.create_contact(data).guid


def create(ledger: Ledger, kind: str = INVOICE, **body: Any) -> SalesDocument:
    body.setdefault("ProductLines", [line()])
    model = rules.INVOICE_CREATE if kind == INVOICE else rules.CREDIT_NOTE_CREATE
    return ledger.create_document(
        INVOICE if kind == INVOICE else CREDIT_NOTE, rules.bind(model, body)
    )


def booked(ledger: Ledger, kind: str = INVOICE, **body: Any) -> SalesDocument:
    body.setdefault("ContactGuid", str(add_contact(ledger)))
    document = create(ledger, kind, **body)
    return ledger.book_document(document.kind, document.guid, document.timestamp, None)
