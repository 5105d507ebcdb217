"""A draft from `gateway.accounting` as Dinero's request body: its lines as Dinero's lines, with
what only posting knows (the guid, the contact, the external reference, the credited
invoice, the voucher's file) added.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar
from uuid import UUID

from gateway.accounting import DocumentDraft, DocumentLine, VoucherDraft, VoucherLine
from gateway.dinero.models import (
    CreditNoteCreate,
    InvoiceCreate,
    InvoiceLine,
    ManualVoucherCreate,
    ManualVoucherLine,
)

_Create = TypeVar("_Create", InvoiceCreate, CreditNoteCreate)


def invoice_line(line: DocumentLine) -> InvoiceLine:
    return InvoiceLine(
        base_amount_value=line.amount,
        quantity=line.quantity,
        account_number=line.account,
        description=line.description,
        discount=line.discount,
        unit=line.unit,
        line_type="Text" if line.kind == "text" else "Product",
    )


def invoice(
    draft: DocumentDraft, *, guid: UUID, external_reference: str, contact_guid: UUID | None
) -> InvoiceCreate:
    if draft.kind != "invoice":
        raise ValueError("this draft is a credit note")
    return _create(
        InvoiceCreate,
        draft,
        guid=guid,
        external_reference=external_reference,
        contact_guid=contact_guid,
    )


def credit_note(
    draft: DocumentDraft,
    *,
    guid: UUID,
    external_reference: str,
    contact_guid: UUID | None,
    credit_note_for: UUID | None,
) -> CreditNoteCreate:
    if draft.kind != "credit_note":
        raise ValueError("this draft is an invoice")
    note = _create(
        CreditNoteCreate,
        draft,
        guid=guid,
        external_reference=external_reference,
        contact_guid=contact_guid,
    )
    return replace(note, credit_note_for=credit_note_for)


def _create(
    model: type[_Create],
    draft: DocumentDraft,
    *,
    guid: UUID,
    external_reference: str,
    contact_guid: UUID | None,
) -> _Create:
    return model(
        product_lines=tuple(invoice_line(line) for line in draft.lines),
        guid=guid,
        contact_guid=contact_guid,
        external_reference=external_reference,
        date=draft.date,
        currency=draft.currency,
        language=draft.language,
        description=draft.description,
        comment=draft.comment,
        show_lines_incl_vat=draft.show_lines_incl_vat,
    )


def voucher_line(line: VoucherLine) -> ManualVoucherLine:
    return ManualVoucherLine(
        amount=line.amount,
        account_number=line.account,
        balancing_account_number=line.balancing_account,
        description=line.description,
        account_vat_code=line.account_vat_code,
        balancing_account_vat_code=line.balancing_account_vat_code,
    )


def manual_voucher(
    voucher: VoucherDraft, *, file_guid: str | None, external_reference: str
) -> ManualVoucherCreate:
    return ManualVoucherCreate(
        lines=tuple(voucher_line(line) for line in voucher.lines),
        voucher_date=voucher.date,
        file_guid=file_guid,
        external_reference=external_reference,
    )
