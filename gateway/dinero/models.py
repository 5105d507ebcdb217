"""What we send to Dinero: request bodies as frozen dataclasses.

Each `to_json()` gives exactly the property names of Dinero's own schema (`InvoiceCreateModel`,
`ContactCreateModel`, ...), in PascalCase, leaving out optional properties that are `None`
(Dinero then applies its default, which is what `null` would do). Amounts are `Decimal` and
stay so in the JSON (see `jsonmoney`). Only the properties the gateway has a use for are here;
the schemas forbid unknown ones, so nothing else can slip in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal
from uuid import UUID

from gateway.dinero.jsonmoney import JsonValue

EXTERNAL_REFERENCE_MAX: Final = 128

Language = Literal["da-DK", "en-GB"]
LineType = Literal["Product", "Text"]

JsonObject = dict[str, JsonValue]


def _present(**properties: JsonValue) -> JsonObject:
    return {name: value for name, value in properties.items() if value is not None}


def _uuid(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _check_reference(value: str | None) -> None:
    if value is not None and len(value) > EXTERNAL_REFERENCE_MAX:
        raise ValueError(f"ExternalReference is longer than {EXTERNAL_REFERENCE_MAX} characters")


@dataclass(frozen=True, kw_only=True)
class ContactCreate:
    """`ContactCreateModel`. A client-chosen `contact_guid` makes the create idempotent."""

    name: str
    country_key: str
    is_person: bool
    is_member: bool = False
    use_cvr: bool = False
    contact_guid: UUID | None = None
    external_reference: str | None = None
    street: str | None = None
    zip_code: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    vat_number: str | None = None
    ean_number: str | None = None
    att_person: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.country_key:
            raise ValueError("a contact needs a Name and a CountryKey")
        _check_reference(self.external_reference)

    def to_json(self) -> JsonObject:
        return _present(
            ContactGuid=_uuid(self.contact_guid),
            ExternalReference=self.external_reference,
            Name=self.name,
            Street=self.street,
            ZipCode=self.zip_code,
            City=self.city,
            CountryKey=self.country_key,
            Phone=self.phone,
            Email=self.email,
            AttPerson=self.att_person,
            VatNumber=self.vat_number,
            EanNumber=self.ean_number,
            IsPerson=self.is_person,
            IsMember=self.is_member,
            UseCvr=self.use_cvr,
        )


@dataclass(frozen=True, kw_only=True)
class InvoiceLine:
    """`InvoiceLinesCreateModel`: one line of an invoice or credit note.

    `base_amount_value` is per unit, excluding VAT unless the document sets
    `show_lines_incl_vat`; `discount` is a percentage (0-100). The line's account decides VAT.
    """

    base_amount_value: Decimal
    quantity: Decimal
    account_number: int
    description: str | None = None
    discount: Decimal = Decimal(0)
    unit: str | None = None
    line_type: LineType | None = None
    comments: str | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.discount <= Decimal(100):
            raise ValueError("Discount is a percentage from 0 to 100")

    def to_json(self) -> JsonObject:
        return _present(
            BaseAmountValue=self.base_amount_value,
            Description=self.description,
            Comments=self.comments,
            Quantity=self.quantity,
            AccountNumber=self.account_number,
            Unit=self.unit,
            Discount=self.discount,
            LineType=self.line_type,
        )


@dataclass(frozen=True, kw_only=True)
class _SalesDocumentCreate:
    """What invoices and credit notes share. A client-chosen `guid` makes the create
    idempotent; `external_reference` is how the document is found again."""

    product_lines: tuple[InvoiceLine, ...]
    guid: UUID | None = None
    contact_guid: UUID | None = None
    external_reference: str | None = None
    date: dt.date | None = None
    currency: str | None = None
    language: Language | None = None
    description: str | None = None
    comment: str | None = None
    show_lines_incl_vat: bool | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if not self.product_lines:
            raise ValueError("a sales document needs at least one line")
        _check_reference(self.external_reference)

    def _common_json(self) -> JsonObject:
        return _present(
            ContactGuid=_uuid(self.contact_guid),
            Guid=_uuid(self.guid),
            ShowLinesInclVat=self.show_lines_incl_vat,
            Currency=self.currency,
            Language=self.language,
            ExternalReference=self.external_reference,
            Description=self.description,
            Comment=self.comment,
            Date=_date(self.date),
            ProductLines=[line.to_json() for line in self.product_lines],
            Address=self.address,
        )


@dataclass(frozen=True, kw_only=True)
class InvoiceCreate(_SalesDocumentCreate):
    """`InvoiceCreateModel` (and `InvoiceCreateFetchModel`, the same shape, for previews)."""

    payment_condition_type: str | None = None
    payment_condition_number_of_days: int | None = None

    def to_json(self) -> JsonObject:
        return (
            _present(
                PaymentConditionNumberOfDays=self.payment_condition_number_of_days,
                PaymentConditionType=self.payment_condition_type,
            )
            | self._common_json()
        )


@dataclass(frozen=True, kw_only=True)
class CreditNoteCreate(_SalesDocumentCreate):
    """`SalesCreditNoteCreateModel`; `credit_note_for` is the credited invoice's guid."""

    credit_note_for: UUID | None = None

    def to_json(self) -> JsonObject:
        return _present(CreditNoteFor=_uuid(self.credit_note_for)) | self._common_json()


@dataclass(frozen=True, kw_only=True)
class PaymentCreate:
    """`PaymentCreateModel`: a payment on a booked invoice, or a refund on a credit note.

    `timestamp` is the document's current one (booking and every payment change it).
    Dinero takes no client guid here: `external_reference` is how a payment is found again.
    """

    timestamp: str
    deposit_account_number: int
    description: str
    amount: Decimal
    remainder_is_fee: bool = False
    payment_date: dt.date | None = None
    external_reference: str | None = None
    amount_in_foreign_currency: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.timestamp or not self.description:
            raise ValueError("a payment needs a Timestamp and a Description")
        if self.amount == 0:
            raise ValueError("a payment's Amount must not be 0")
        _check_reference(self.external_reference)

    def to_json(self) -> JsonObject:
        return _present(
            Timestamp=self.timestamp,
            DepositAccountNumber=self.deposit_account_number,
            RemainderIsFee=self.remainder_is_fee,
            AmountInForeignCurrency=self.amount_in_foreign_currency,
            ExternalReference=self.external_reference,
            PaymentDate=_date(self.payment_date),
            Description=self.description,
            Amount=self.amount,
        )


@dataclass(frozen=True, kw_only=True)
class ManualVoucherLine:
    """`ManuelVoucherLineCreateModel`. A VAT code of `"none"` suppresses the account's VAT;
    `None` leaves the account's default."""

    amount: Decimal
    account_number: int | None = None
    balancing_account_number: int | None = None
    description: str | None = None
    account_vat_code: str | None = None
    balancing_account_vat_code: str | None = None

    def to_json(self) -> JsonObject:
        return _present(
            Description=self.description,
            AccountNumber=self.account_number,
            BalancingAccountNumber=self.balancing_account_number,
            Amount=self.amount,
            AccountVatCode=self.account_vat_code,
            BalancingAccountVatCode=self.balancing_account_vat_code,
        )


@dataclass(frozen=True, kw_only=True)
class ManualVoucherCreate:
    """`ManuelVoucherCreateModel` (Dinero's spelling). No client guid and no search: attach an
    uploaded file (`file_guid`) so an uncertain create can be found through the file's links."""

    lines: tuple[ManualVoucherLine, ...]
    voucher_date: dt.date | None = None
    file_guid: str | None = None  # Dinero's FileGuid is a plain string
    external_reference: str | None = None

    def __post_init__(self) -> None:
        _check_reference(self.external_reference)

    def to_json(self) -> JsonObject:
        return _present(
            VoucherDate=_date(self.voucher_date),
            Lines=[line.to_json() for line in self.lines],
            FileGuid=self.file_guid,
            ExternalReference=self.external_reference,
        )


def timestamp_body(timestamp: str, *, number: int | None = None) -> JsonObject:
    """The body of the calls that name a document's latest `Timestamp` (deleting a draft,
    generating a credit note), and of booking (`BookModel`), which may also give the number
    to book under."""
    if not timestamp:
        raise ValueError("a Timestamp is required")
    return _present(Timestamp=timestamp, Number=number)
