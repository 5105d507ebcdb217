"""Payments against booked sales documents: money in for an invoice, a refund out for a
credit note. `new_payment` checks one against its document; the ledger records it.

Choices where DINERO.md says "Unsure" or the OpenAPI file is silent:
- A positive `Amount` pays an invoice, or pays out a credit note's refund. A payment that
  would take the paid amount above the document's total, or below zero, is refused.
- For a foreign-currency document `Amount` is in DKK and `AmountInForeignCurrency` in the
  document's currency, which is what paid and remaining amounts are counted in.
- `RemainderIsFee` books the amount still owing after the payment as a fee, settling it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid4

from sandbox.chart import Chart
from sandbox.entries import DocumentKind, check_timestamp, label, parse_date
from sandbox.errors import validation_error
from sandbox.money import ZERO


class Payable(Protocol):
    """What a payment needs of the invoice or credit note it settles (`ledger.SalesDocument`,
    which holds its payments: so this module never imports the ledger)."""

    @property
    def kind(self) -> DocumentKind: ...
    @property
    def guid(self) -> UUID: ...
    @property
    def number(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def deleted_at(self) -> datetime | None: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def remaining(self) -> Decimal: ...
    @property
    def paid(self) -> Decimal: ...


@dataclass(frozen=True)
class Payment:
    guid: UUID
    document: Payable
    amount: Decimal  # in the document's currency
    amount_dkk: Decimal
    deposit_account: int
    description: str
    external_reference: str | None
    payment_date: date
    remainder_is_fee: bool
    fee: Decimal
    related_voucher_guid: UUID


def new_payment(
    document: Payable,
    data: dict[str, Any],
    *,
    chart: Chart,
    today: Callable[[], date],
) -> Payment:
    """The payment the bound `data` makes on `document`, checked but not yet recorded."""
    what = label(document.kind)
    if document.status != "Booked" or document.deleted_at is not None:
        raise validation_error(f"Payments can only be added to a booked {what.lower()}.")
    check_timestamp(what, document.timestamp, data["Timestamp"])
    errors: dict[str, str] = {}
    account = data["DepositAccountNumber"]
    if account not in chart.deposit_accounts:
        errors["DepositAccountNumber"] = f"{account} is not a deposit account."
    amount_dkk: Decimal = data["Amount"]
    amount = amount_dkk
    if document.currency != "DKK":
        foreign = data["AmountInForeignCurrency"]
        if foreign is None:
            errors["AmountInForeignCurrency"] = f"Required for a document in {document.currency}."
        else:
            amount = foreign
    payment_date = parse_date(data["PaymentDate"]) or today()
    if errors:
        raise validation_error("The payment is invalid.", **errors)
    if amount > document.remaining:
        raise validation_error(
            f"The payment of {amount} exceeds the remaining amount {document.remaining}.",
            Amount="Over-payment.",
        )
    if document.paid + amount < 0:
        raise validation_error("The payments would add up to less than zero.", Amount="Too low.")
    fee = document.remaining - amount if data["RemainderIsFee"] else ZERO
    return Payment(
        guid=uuid4(),
        document=document,
        amount=amount,
        amount_dkk=amount_dkk,
        deposit_account=account,
        description=data["Description"],
        external_reference=data["ExternalReference"],
        payment_date=payment_date,
        remainder_is_fee=data["RemainderIsFee"],
        fee=fee,
        related_voucher_guid=uuid4(),
    )
