"""Payments on booked invoices and credit notes: registering one, and reading what has been
paid and what is left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Self
from uuid import UUID

from gateway.dinero.jsonmoney import ObjectReader
from gateway.dinero.models import PaymentCreate
from gateway.dinero.transport import Transport, api_path


@dataclass(frozen=True, kw_only=True)
class PaymentCreated:
    """`CreatedPaymentResponse`; `timestamp` is the paid document's new one."""

    guid: UUID
    timestamp: str | None
    related_voucher_guid: UUID | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            timestamp=f.text_or_none("TimeStamp"),
            related_voucher_guid=f.uuid_or_none("RelatedVoucherGuid"),
        )


@dataclass(frozen=True, kw_only=True)
class Payment:
    """`PaymentReadModel`: one payment registered on an invoice or credit note."""

    guid: UUID
    amount: Decimal
    description: str | None
    external_reference: str | None
    payment_date: dt.date | None
    deposit_account_number: int | None
    currency: str | None
    related_voucher_guid: UUID | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            amount=f.decimal("Amount"),
            description=f.text_or_none("Description"),
            external_reference=f.text_or_none("ExternalReference"),
            payment_date=f.date_or_none("PaymentDate"),
            deposit_account_number=f.integer_or_none("DepositAccountNumber"),
            currency=f.text_or_none("Currency"),
            related_voucher_guid=f.uuid_or_none("RelatedVoucherId"),
        )


@dataclass(frozen=True, kw_only=True)
class InvoicePayments:
    """`InvoicePaymentsModel`: the payments on a document and what is left to pay."""

    payments: tuple[Payment, ...]
    paid_amount: Decimal
    remaining_amount: Decimal
    total_including_reminder_expenses: Decimal
    remainder_as_fee_available: bool | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            payments=tuple(Payment.from_json(item) for item in f.items("Payments")),
            paid_amount=f.decimal("PaidAmount"),
            remaining_amount=f.decimal("RemainingAmount"),
            total_including_reminder_expenses=f.decimal("InvoiceTotalIncludingReminderExpenses"),
            remainder_as_fee_available=f.flag_or_none("RemainderAsFeeAvailable"),
        )


class PaymentCalls(Transport):
    async def register_invoice_payment(
        self, org: int, invoice_guid: UUID, payment: PaymentCreate
    ) -> PaymentCreated:
        """No client guid: after an uncertain outcome, look for the payment's
        `ExternalReference` in `invoice_payments` before registering it again."""
        path = api_path(org, "invoices", invoice_guid, "payments")
        return await self._call("POST", path, PaymentCreated.from_json, body=payment.to_json())

    async def invoice_payments(self, org: int, invoice_guid: UUID) -> InvoicePayments:
        path = api_path(org, "invoices", invoice_guid, "payments", version=2)
        return await self._call("GET", path, InvoicePayments.from_json)

    async def register_credit_note_payment(
        self, org: int, credit_note_guid: UUID, payment: PaymentCreate
    ) -> PaymentCreated:
        path = api_path(org, "sales", "creditnotes", credit_note_guid, "payments")
        return await self._call("POST", path, PaymentCreated.from_json, body=payment.to_json())

    async def credit_note_payments(self, org: int, credit_note_guid: UUID) -> InvoicePayments:
        path = api_path(org, "sales", "creditnotes", credit_note_guid, "payments")
        return await self._call("GET", path, InvoicePayments.from_json)
