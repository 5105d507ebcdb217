import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from gateway.dinero.contacts import Contact
from gateway.dinero.files import ArchivedFile
from gateway.dinero.jsonmoney import ParseError, loads
from gateway.dinero.organizations import Organization
from gateway.dinero.pages import parse_collection, parse_list, parse_page
from gateway.dinero.payments import InvoicePayments
from gateway.dinero.sales import CreditNote, Invoice, InvoiceSummary, InvoiceTotals
from gateway.dinero.vouchers import ManualVoucher

GUID = uuid.UUID("3a315ad3-ddcc-419d-9fc5-219280ae4816")
CONTACT = uuid.UUID("74ba828f-0b4b-49e1-b5c9-ef9675755556")

INVOICE_JSON = f"""{{
  "PaymentDate": "2026-12-02", "PaymentStatus": "Draft", "PaymentConditionNumberOfDays": 8,
  "IsSentToDebtCollection": false, "IsMobilePayInvoiceEnabled": false, "IsPensoPayEnabled": false,
  "Status": "Booked", "ContactGuid": "{CONTACT}", "Guid": "{GUID}", "TimeStamp": "00000000020A5EA8",
  "Number": 12, "ShowLinesInclVat": true, "TotalExclVat": 103.19, "TotalVatableAmount": 103.19,
  "TotalInclVat": 128.99, "TotalNonVatableAmount": 0, "TotalVat": 25.80, "Currency": "DKK",
  "ExternalReference": "gw:1001", "Date": "2026-11-24", "SomethingNew": {{"x": 1}},
  "ProductLines": [{{"Description": "Sokker", "AccountNumber": 1000, "Quantity": 3,
    "BaseAmountValue": 26.664, "BaseAmountValueInclVat": 33.33, "TotalAmount": 79.99,
    "TotalAmountInclVat": 99.99, "Discount": 0, "Unit": "parts", "LineType": "Product"}}]
}}"""


def camel(value: Any) -> Any:
    """The same JSON with every key starting lower-case, as a `fields=` list may return it."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


@pytest.mark.parametrize("casing", [lambda d: d, camel], ids=["PascalCase", "camelCase"])
def test_invoice_reads_the_same_in_any_casing(casing: Any) -> None:
    invoice = Invoice.from_json(casing(loads(INVOICE_JSON)))
    assert invoice.guid == GUID
    assert invoice.contact_guid == CONTACT
    assert invoice.timestamp == "00000000020A5EA8"
    assert invoice.number == 12
    assert invoice.status == "Booked" and not invoice.is_draft
    assert invoice.date == dt.date(2026, 11, 24)
    assert invoice.external_reference == "gw:1001"
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        Decimal("103.19"),
        Decimal("25.80"),
        Decimal("128.99"),
    )
    assert str(invoice.total_vat) == "25.80"  # exact: never passed through a float
    (line,) = invoice.lines
    assert line.base_amount_value == Decimal("26.664")
    assert line.total_amount_incl_vat == Decimal("99.99")
    assert line.quantity == 3 and line.account_number == 1000


def test_a_draft_has_no_number() -> None:
    data = loads(INVOICE_JSON) | {"Status": "Draft", "Number": 0}
    invoice = Invoice.from_json(data)
    assert invoice.is_draft and invoice.number is None
    assert Invoice.from_json(data | {"Number": None}).number is None


def test_a_missing_total_is_an_error_not_a_zero() -> None:
    data = loads(INVOICE_JSON)
    del data["TotalInclVat"]
    with pytest.raises(ParseError, match="TotalInclVat"):
        Invoice.from_json(data)


def test_preview_totals() -> None:
    totals = InvoiceTotals.from_json(loads(INVOICE_JSON))
    assert totals.total_incl_vat == Decimal("128.99") and len(totals.lines) == 1


def test_credit_note_knows_its_invoice_unless_booking_answered() -> None:
    data = loads(INVOICE_JSON)
    assert CreditNote.from_json(data | {"CreditNoteFor": str(CONTACT)}).credit_note_for == CONTACT
    assert CreditNote.from_json(data).credit_note_for is None


def test_lists_pages_and_collections() -> None:
    organizations = parse_list(
        loads(b'[{"id": 42, "name": "Demo ApS", "isPro": true}, {"Id": 7, "Name": null}]'),
        Organization.from_json,
    )
    assert organizations == [
        Organization(id=42, name="Demo ApS", is_pro=True),
        Organization(id=7, name=None, is_pro=None),
    ]
    page = parse_page(
        loads(
            f'{{"Collection": [{{"contactGuid": "{CONTACT}", "name": "Karen"}}],'
            ' "Pagination": {"MaxPageSizeAllowed": 1000, "PageSize": 100, "Result": 1,'
            ' "ResultWithoutFilter": 40, "Page": 0}}'
        ),
        Contact.from_json,
    )
    assert page.items == (Contact(contact_guid=CONTACT, name="Karen"),)
    assert (page.pagination.page, page.pagination.result) == (0, 1)
    summaries = parse_collection(
        loads(f'{{"Collection": [{{"guid": "{GUID}", "number": 0, "status": "Draft"}}]}}'),
        InvoiceSummary.from_json,
    )
    assert summaries == [
        InvoiceSummary(
            guid=GUID, number=None, status="Draft", external_reference=None, timestamp=None
        )
    ]
    assert (
        parse_collection(loads(b'{"Collection": null, "Pagination": {}}'), Contact.from_json) == []
    )
    with pytest.raises(ParseError, match="list"):
        parse_list(loads(b"{}"), Organization.from_json)


def test_payments_keep_their_reference_and_exact_amounts() -> None:
    payments = InvoicePayments.from_json(
        loads(
            f"""{{"Payments": [{{"Guid": "{GUID}", "DepositAccountNumber": 55000, "Currency": "DKK",
            "ExchangeRate": 100, "RelatedVoucherId": "{CONTACT}", "ExternalReference": "gw:pay:1",
            "PaymentDate": "2026-11-24", "Description": "Betaling", "Amount": 128.99}}],
            "RemainingAmount": 0.00, "PaidAmount": 128.99,
            "InvoiceTotalIncludingReminderExpenses": 128.99, "RemainderAsFeeAvailable": false}}"""
        )
    )
    (payment,) = payments.payments
    assert payment.external_reference == "gw:pay:1"
    assert payment.amount == Decimal("128.99")
    assert payment.related_voucher_guid == CONTACT
    assert payment.payment_date == dt.date(2026, 11, 24)
    assert payments.remaining_amount == Decimal("0.00")
    assert payments.paid_amount == Decimal("128.99")


def test_archived_files_list_their_vouchers() -> None:
    (file,) = parse_list(
        loads(
            f"""[{{"FileGuid": "{GUID}", "Name": "1001.pdf", "Extension": "pdf", "Size": 1234,
            "UploadedAt": "2026-11-24T10:00:00Z",
            "Linked": [{{"VoucherId": 3, "VoucherGuid": "{CONTACT}", "LinkedAt": null}}]}}]"""
        ),
        ArchivedFile.from_json,
    )
    assert file.file_guid == str(GUID) and file.size == 1234
    assert [link.voucher_guid for link in file.linked] == [CONTACT]


def test_manual_voucher() -> None:
    voucher = ManualVoucher.from_json(
        loads(
            f"""{{"VoucherNumber": null, "VoucherDate": "2026-11-24", "TotalInclVat": 100,
            "TotalExclVat": 80, "FileGuid": "687f0b3b-7de5-4a4c-b2bd-7b4b761bbf60s",
            "Guid": "{GUID}", "Status": "Draft", "Timestamp": "00000000000017B7",
            "ExternalReference": "gw:v:1", "Lines": [{{"Description": "Salg",
            "AmountExclVatValue": 80, "AmountInclVatValue": 100, "VatAmountValue": 20,
            "AccountNumber": 55000, "BalancingAccountNumber": 1000, "AccountVatCode": null,
            "BalancingAccountVatCode": "U25"}}]}}"""
        )
    )
    assert voucher.guid == GUID and voucher.timestamp == "00000000000017B7"
    assert (
        voucher.file_guid == "687f0b3b-7de5-4a4c-b2bd-7b4b761bbf60s"
    )  # a string, as Dinero has it
    assert voucher.total_incl_vat == Decimal(100)
    assert voucher.lines[0].vat_amount_value == Decimal(20)
