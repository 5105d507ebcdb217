"""An organisation's uploaded files and manual vouchers.

Manual vouchers have a number series of their own; their `TimeStamp`s come from the
organisation's one version counter, which the ledger hands in. Like the ledger's, every
method is synchronous, takes bodies already bound by `rules` and raises `DineroApiError`.

Choices where DINERO.md says "Unsure" or the OpenAPI file is silent:
- A positive `Amount` debits `AccountNumber` and credits `BalancingAccountNumber`. The amount
  excludes VAT under a sales VAT code and includes it under a purchase code; only one side of
  a line may carry VAT with a rate above 0.
- Booking a voucher already booked is a 400 even with a stale timestamp, as for invoices.
- A file's guid looks like the spec's example (`web` and 29 letters and digits), not a uuid.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

from sandbox.chart import NO_VAT, PURCHASE_VAT_ACCOUNT, SALES_VAT_ACCOUNT, Chart, VatType
from sandbox.entries import check_timestamp, not_found, parse_date, take_number
from sandbox.errors import DineroApiError, validation_error
from sandbox.money import ZERO, round_half_up

MAX_FILE_SIZE = 6 * 1024 * 1024

_FILE_TYPES = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
)


@dataclass(frozen=True)
class FileLink:
    voucher: ManualVoucher
    linked_at: datetime


@dataclass(eq=False)
class StoredFile:
    guid: str
    name: str
    extension: str
    size: int
    uploaded_at: datetime
    links: list[FileLink] = field(default_factory=list)


@dataclass(frozen=True)
class VoucherLine:
    description: str | None
    account_number: int | None
    balancing_account_number: int | None
    amount: Decimal
    account_vat_code: str | None  # as given
    balancing_account_vat_code: str | None
    vat: VatType | None  # the VAT in effect, on one side at most
    vat_on_account_side: bool
    excl_vat: Decimal
    incl_vat: Decimal
    vat_amount: Decimal

    def postings(self) -> list[tuple[int | None, Decimal]]:
        """(account, amount) pairs, debit positive: a positive amount debits AccountNumber."""
        vat_side_amount, other_side_amount = self.excl_vat, self.incl_vat
        account_amount = vat_side_amount if self.vat_on_account_side else other_side_amount
        balancing_amount = other_side_amount if self.vat_on_account_side else vat_side_amount
        postings = [
            (self.account_number, account_amount),
            (self.balancing_account_number, -balancing_amount),
        ]
        if self.vat is not None and self.vat_amount:
            vat_account = PURCHASE_VAT_ACCOUNT if self.vat.is_purchase else SALES_VAT_ACCOUNT
            sign = 1 if self.vat_on_account_side else -1
            postings.append((vat_account, sign * self.vat_amount))
        return postings


@dataclass(eq=False)
class ManualVoucher:
    guid: UUID
    id: int
    voucher_date: date
    external_reference: str | None
    file: StoredFile | None
    lines: list[VoucherLine]
    created_at: datetime
    timestamp: str = ""
    status: Literal["Draft", "Booked"] = "Draft"
    number: int | None = None
    booked_at: datetime | None = None
    booked_by: str | None = None


class Vouchers:
    """The files and manual vouchers of one organisation."""

    def __init__(
        self, chart: Chart, *, now: Callable[[], datetime], stamp: Callable[[], str]
    ) -> None:
        self.chart = chart
        self.now = now
        self._stamp = stamp
        self.files: dict[str, StoredFile] = {}
        self._vouchers: dict[UUID, ManualVoucher] = {}
        self._numbers: set[int] = set()
        self._random = random.Random()

    def __iter__(self) -> Iterator[ManualVoucher]:
        return iter(self._vouchers.values())

    # -- files ------------------------------------------------------------------------

    def store_file(self, name: str | None, content: bytes) -> StoredFile:
        """Raises a text-bodied 400 for a file that is too large, empty or of another type."""
        if len(content) > MAX_FILE_SIZE:
            raise DineroApiError(400, "The file is too large. The maximum size is 6 MB.", text=True)
        extension = next((ext for magic, ext in _FILE_TYPES if content.startswith(magic)), None)
        if extension is None:
            raise DineroApiError(
                400, "The file type is not supported. Upload a PDF or an image.", text=True
            )
        guid = "web" + "".join(self._random.choices("0123456789abcdefghijklmnopqrstuvwxyz", k=29))
        stored = self.files[guid] = StoredFile(
            guid=guid,
            name=name or f"file.{extension}",
            extension=extension,
            size=len(content),
            uploaded_at=self.now(),
        )
        return stored

    # -- manual vouchers --------------------------------------------------------------

    def create(self, data: dict[str, Any]) -> ManualVoucher:
        errors: dict[str, str] = {}
        stored = None
        if data["FileGuid"] is not None:
            stored = self.files.get(data["FileGuid"])
            if stored is None:
                errors["FileGuid"] = f"No file with guid {data['FileGuid']} exists."
        lines = [self._voucher_line(i, line, errors) for i, line in enumerate(data["Lines"] or [])]
        if errors:
            raise validation_error("The voucher is invalid.", **errors)
        now = self.now()
        voucher = ManualVoucher(
            guid=uuid4(),
            id=len(self._vouchers) + 1,
            voucher_date=parse_date(data["VoucherDate"]) or self.now().date(),
            external_reference=data["ExternalReference"],
            file=stored,
            lines=lines,
            created_at=now,
            timestamp=self._stamp(),
        )
        self._vouchers[voucher.guid] = voucher
        if stored is not None:
            stored.links.append(FileLink(voucher, now))
        return voucher

    def _voucher_line(
        self, index: int, line: Mapping[str, Any], errors: dict[str, str]
    ) -> VoucherLine:
        where = f"Lines[{index}]."
        account_vat = self._side_vat(
            line["AccountNumber"], line["AccountVatCode"], where + "Account", errors
        )
        balancing_vat = self._side_vat(
            line["BalancingAccountNumber"],
            line["BalancingAccountVatCode"],
            where + "BalancingAccount",
            errors,
        )
        amount: Decimal = line["Amount"]
        taxed = [vat for vat in (account_vat, balancing_vat) if vat is not None and vat.rate > 0]
        if len(taxed) > 1:
            errors[where + "BalancingAccountVatCode"] = "Only one side of a line may carry VAT."
        vat = taxed[0] if len(taxed) == 1 else None
        if vat is None:
            excl, incl, vat_amount = amount, amount, ZERO
        elif vat.is_purchase:
            vat_amount = round_half_up(amount * vat.rate / (1 + vat.rate))
            excl, incl = amount - vat_amount, amount
        else:
            vat_amount = round_half_up(amount * vat.rate)
            excl, incl = amount, amount + vat_amount
        return VoucherLine(
            description=line["Description"],
            account_number=line["AccountNumber"],
            balancing_account_number=line["BalancingAccountNumber"],
            amount=amount,
            account_vat_code=line["AccountVatCode"],
            balancing_account_vat_code=line["BalancingAccountVatCode"],
            vat=vat,
            vat_on_account_side=vat is not None and vat is account_vat,
            excl_vat=excl,
            incl_vat=incl,
            vat_amount=vat_amount,
        )

    def _side_vat(
        self, account_number: int | None, code: str | None, where: str, errors: dict[str, str]
    ) -> VatType | None:
        account = None
        if account_number is not None:
            account = self.chart.entry_accounts.get(account_number)
            if account is None:
                errors[where + "Number"] = f"No account {account_number}."
        if code is None:
            return (
                self.chart.vat_types.get(account.vat_code) if account and account.vat_code else None
            )
        if code.lower() == NO_VAT:
            return None
        vat = self.chart.find_vat_type(code)
        if vat is None:
            errors[where + "VatCode"] = f"Unknown VAT code {code!r}."
        return vat

    def get(self, guid: UUID) -> ManualVoucher:
        voucher = self._vouchers.get(guid)
        if voucher is None:
            raise not_found("Manual voucher", guid)
        return voucher

    def book(
        self, guid: UUID, timestamp: str, number: int | None, *, booked_by: str
    ) -> ManualVoucher:
        voucher = self.get(guid)
        if voucher.status == "Booked":
            raise validation_error(f"The manual voucher {guid} is already booked.")
        check_timestamp("Manual voucher", voucher.timestamp, timestamp)
        errors = {
            f"Lines[{i}]": "Both AccountNumber and BalancingAccountNumber are needed to book."
            for i, line in enumerate(voucher.lines)
            if line.account_number is None or line.balancing_account_number is None
        }
        if not voucher.lines:
            errors["Lines"] = "A voucher needs at least one line to be booked."
        if errors:
            raise validation_error("The manual voucher cannot be booked.", **errors)
        voucher.number = take_number(self._numbers, number)
        voucher.status = "Booked"
        voucher.booked_at = self.now()
        voucher.booked_by = booked_by
        voucher.timestamp = self._stamp()
        return voucher
