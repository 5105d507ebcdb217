"""Dinero as posting's backend: the worker's resources, and the attempt each kind of
document takes (`sales` for invoices and credit notes, `payments`, `vouchers`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from tenants.dinero.attempt import DineroAttempt, Resources
from tenants.dinero.payments import PaymentAttempt
from tenants.dinero.sales import SalesAttempt
from tenants.dinero.vouchers import VoucherAttempt
from tenants.outbox.models import Document

_ATTEMPTS: Final[dict[str, type[DineroAttempt]]] = {
    "invoice": SalesAttempt,
    "credit_note": SalesAttempt,
    "payment": PaymentAttempt,
    "voucher": VoucherAttempt,
}


@dataclass(frozen=True)
class Poster(Resources):
    """Posting's `Backend` for Dinero: built once per worker (`workers.documents`)."""

    def attempt(self, document: Document, now: datetime) -> DineroAttempt:
        return _ATTEMPTS[document.kind](self, document, now)
