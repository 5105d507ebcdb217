"""Dinero manual vouchers: creating, reading and booking one, and a voucher as read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Self
from uuid import UUID

from gateway.dinero.jsonmoney import ObjectReader
from gateway.dinero.models import ManualVoucherCreate, timestamp_body
from gateway.dinero.transport import Transport, api_path


@dataclass(frozen=True, kw_only=True)
class ManualVoucherLineRead:
    description: str | None
    account_number: int | None
    balancing_account_number: int | None
    amount_excl_vat_value: Decimal
    amount_incl_vat_value: Decimal
    vat_amount_value: Decimal
    account_vat_code: str | None
    balancing_account_vat_code: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            description=f.text_or_none("Description"),
            account_number=f.integer_or_none("AccountNumber"),
            balancing_account_number=f.integer_or_none("BalancingAccountNumber"),
            amount_excl_vat_value=f.decimal("AmountExclVatValue"),
            amount_incl_vat_value=f.decimal("AmountInclVatValue"),
            vat_amount_value=f.decimal("VatAmountValue"),
            account_vat_code=f.text_or_none("AccountVatCode"),
            balancing_account_vat_code=f.text_or_none("BalancingAccountVatCode"),
        )


@dataclass(frozen=True, kw_only=True)
class ManualVoucher:
    """`ManuelVoucherReadModel`: what creating, reading and booking a manual voucher answer."""

    guid: UUID
    timestamp: str | None
    status: str | None
    voucher_number: int | None
    voucher_date: dt.date | None
    file_guid: str | None  # a plain string in Dinero's schema, not a UUID
    external_reference: str | None
    total_excl_vat: Decimal
    total_incl_vat: Decimal
    lines: tuple[ManualVoucherLineRead, ...]

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            timestamp=f.text_or_none("Timestamp"),
            status=f.text_or_none("Status"),
            # Numbers start at 1; a draft has none (shown as 0 or null).
            voucher_number=f.integer_or_none("VoucherNumber") or None,
            voucher_date=f.date_or_none("VoucherDate"),
            file_guid=f.text_or_none("FileGuid"),
            external_reference=f.text_or_none("ExternalReference"),
            total_excl_vat=f.decimal("TotalExclVat"),
            total_incl_vat=f.decimal("TotalInclVat"),
            lines=tuple(ManualVoucherLineRead.from_json(item) for item in f.items("Lines")),
        )


class ManualVoucherCalls(Transport):
    async def create_manual_voucher(self, org: int, voucher: ManualVoucherCreate) -> ManualVoucher:
        """No client guid and no search: see `ManualVoucherCreate` for finding one again."""
        path = api_path(org, "vouchers", "manuel")
        return await self._call("POST", path, ManualVoucher.from_json, body=voucher.to_json())

    async def get_manual_voucher(self, org: int, guid: UUID) -> ManualVoucher:
        path = api_path(org, "vouchers", "manuel", guid)
        return await self._call("GET", path, ManualVoucher.from_json)

    async def book_manual_voucher(self, org: int, guid: UUID, timestamp: str) -> ManualVoucher:
        path = api_path(org, "vouchers", "manuel", guid, "book")
        body = timestamp_body(timestamp)
        return await self._call("POST", path, ManualVoucher.from_json, body=body)
