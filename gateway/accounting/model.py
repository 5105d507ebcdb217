"""What the accounting rules write, whatever system books it: a document's line, a manual
voucher's line, and the languages documents are written in.

These are the books' terms, not any one system's request bodies: a backend turns them into
its own (Dinero's: `tenants.dinero.bodies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Language = Literal["da-DK", "en-GB"]
LineKind = Literal["product", "text"]
# A product line's unit: a piece ("parts", Dinero's word, which the gateway has always
# written) or a shipment.
Unit = Literal["parts", "shipment"]

_HUNDRED = Decimal(100)


@dataclass(frozen=True, kw_only=True)
class DocumentLine:
    """One line of an invoice or credit note.

    `amount` is per unit, excl. VAT unless the document shows its lines incl. VAT; the line
    is `quantity` units less `discount` percent (0-100). The line's `account` decides its
    VAT. A text line carries words only: it adds nothing to the document's totals.
    """

    amount: Decimal
    quantity: Decimal
    account: int
    description: str
    discount: Decimal = Decimal(0)
    unit: Unit = "parts"
    kind: LineKind = "product"

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.discount <= _HUNDRED:
            raise ValueError("a line's discount is a percentage from 0 to 100")


@dataclass(frozen=True, kw_only=True)
class VoucherLine:
    """One line of a manual voucher: a positive `amount` debits `account` and credits
    `balancing_account`. At a sales rate the amount is excl. VAT. A side's VAT code of
    `"none"` (`NO_VAT_CODE`) says it carries no VAT; `None` leaves the account's own code
    to decide."""

    amount: Decimal
    account: int
    balancing_account: int
    description: str
    account_vat_code: str | None = None
    balancing_account_vat_code: str | None = None
