"""The answers' shapes: each stored entity as the read model of Dinero's OpenAPI description,
with the figures shown for it (VAT region, line amounts incl. and excl. VAT).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.entries import INVOICE
from sandbox.ledger import Contact, DocumentLine, Ledger, SalesDocument
from sandbox.money import ZERO, gross_of, net_of, round_half_up
from sandbox.payments import Payment
from sandbox.vouchers import ManualVoucher, StoredFile

_HUNDRED = Decimal(100)
_EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)


def contact_model(contact: Contact) -> dict[str, Any]:
    """`ContactReadModel`."""
    return {
        "ContactGuid": contact.guid,
        "CreatedAt": contact.created_at,
        "UpdatedAt": contact.updated_at,
        "DeletedAt": None,
        "IsDebitor": True,
        "IsCreditor": False,
        "CompanyStatus": None,
        "VatRegionKey": vat_region(contact.data["CountryKey"]),
        **{key: value for key, value in contact.data.items() if key != "ContactGuid"},
    }


def _address(ledger: Ledger, document: SalesDocument) -> str | None:
    given = document.data["Address"]
    contact = ledger.contacts.get(document.contact_guid) if document.contact_guid else None
    if given is not None or contact is None:
        return str(given) if given is not None else None
    data = contact.data
    place = " ".join(part for part in (data["ZipCode"], data["City"]) if part)
    return "\n".join(part for part in (data["Street"], place) if part) or None


def _lines_and_totals(ledger: Ledger, document: SalesDocument) -> dict[str, Any]:
    totals, da = document.totals, document.language == "da-DK"
    total_lines = [{"Type": "SubTotal", "TotalAmount": totals.excl_vat, "Label": "Subtotal"}]
    for rate, vat in sorted(totals.vat_by_rate.items()):
        if rate > 0:
            percent = format((rate * _HUNDRED).normalize(), "f")
            label = f"{'Moms' if da else 'VAT'} ({percent}%)"
            total_lines.append({"Type": "Vat", "TotalAmount": vat, "Label": label})
    total_lines.append(
        {"Type": "Total", "TotalAmount": totals.incl_vat, "Label": f"Total {document.currency}"}
    )
    lines = []
    for line in document.lines:
        base, base_incl, total, total_incl = line_amounts(
            line, lines_incl_vat=document.show_lines_incl_vat
        )
        account = ledger.chart.entry_accounts.get(line.account_number)
        lines.append(
            {
                "AccountName": account.name if account else None,
                "BaseAmountValue": base,
                "BaseAmountValueInclVat": base_incl,
                "TotalAmount": total,
                "TotalAmountInclVat": total_incl,
                "ProductGuid": line.product_guid,
                "Description": line.description,
                "Comments": line.comments,
                "Quantity": line.quantity,
                "AccountNumber": line.account_number,
                "Unit": line.unit,
                "Discount": line.discount,
                "LineType": line.line_type,
            }
        )
    return {
        "ShowLinesInclVat": document.show_lines_incl_vat,
        "TotalExclVat": totals.excl_vat,
        "TotalVatableAmount": totals.vatable,
        "TotalInclVat": totals.incl_vat,
        "TotalNonVatableAmount": totals.non_vatable,
        "TotalVat": totals.vat,
        "TotalLines": [dict(line, Position=i) for i, line in enumerate(total_lines)],
        "InvoiceTemplateId": document.data["InvoiceTemplateId"],
        "Currency": document.currency,
        "Language": document.language,
        "ExternalReference": document.external_reference,
        "Description": document.description,
        "Comment": document.data["Comment"],
        "Date": document.issue_date,
        "ProductLines": lines,
        "Address": _address(ledger, document),
    }


def _identity(ledger: Ledger, document: SalesDocument) -> dict[str, Any]:
    return {
        "ContactGuid": document.contact_guid,
        "Guid": document.guid,
        "TimeStamp": document.timestamp,
        "CreatedAt": document.created_at,
        "UpdatedAt": document.updated_at,
        "DeletedAt": document.deleted_at,
        "Number": document.number,
        "ContactName": ledger.contact_name(document),
    }


def _payment_terms(document: SalesDocument) -> dict[str, Any]:
    kind, days = document.payment_condition
    return {
        "PaymentDate": document.payment_date,
        "PaymentConditionNumberOfDays": days,
        "PaymentConditionType": kind,
    }


def invoice_model(ledger: Ledger, document: SalesDocument) -> dict[str, Any]:
    """`InvoiceReadModel`; booking a credit note answers this shape too, as the spec says."""
    terms = _payment_terms(document)
    return {
        "PaymentDate": terms["PaymentDate"],
        "PaymentStatus": ledger.payment_status(document),
        "PaymentConditionNumberOfDays": terms["PaymentConditionNumberOfDays"],
        "PaymentConditionType": terms["PaymentConditionType"],
        "FikCode": None,
        "DepositAccountNumber": None,
        "MailOutStatus": "NotSent",
        "LatestMailOutType": None,
        "IsSentToDebtCollection": False,
        "IsMobilePayInvoiceEnabled": bool(document.data.get("IsMobilePayInvoiceEnabled")),
        "IsPensoPayEnabled": bool(document.data.get("IsPensoPayEnabled")),
        "Status": document.status,
        **_identity(ledger, document),
        **_lines_and_totals(ledger, document),
    }


def credit_note_model(ledger: Ledger, document: SalesDocument) -> dict[str, Any]:
    """`SalesCreditNoteReadModel`."""
    return {
        "CreditNoteFor": document.credit_note_for,
        "MailOutStatus": "NotSent",
        "LatestMailOutType": None,
        "PaymentStatus": ledger.payment_status(document),
        "Status": document.status,
        **_identity(ledger, document),
        **_lines_and_totals(ledger, document),
    }


def fetch_model(ledger: Ledger, document: SalesDocument) -> dict[str, Any]:
    """`InvoiceFetchReadModel` or `SalesCreditNoteFetchReadModel`: totals, nothing stored."""
    heading: dict[str, Any]
    if document.kind == INVOICE:
        heading = {
            **_payment_terms(document),
            "CanEnableMobilePayInvoice": False,
            "CanEnablePensoPay": False,
        }
    else:
        heading = {"CreditNoteFor": document.credit_note_for}
    return {
        **heading,
        "ContactGuid": document.contact_guid,
        "Number": 0,
        "ContactName": ledger.contact_name(document),
        **_lines_and_totals(ledger, document),
    }


def list_model(ledger: Ledger, document: SalesDocument) -> dict[str, Any]:
    """`SalesVoucherReadListModel`."""
    rate = ledger.chart.currency_rates[document.currency]
    totals = document.totals
    return {
        "Number": document.number,
        "Guid": document.guid,
        "ExternalReference": document.external_reference,
        "Date": document.issue_date,
        "PaymentDate": document.payment_date,
        "Description": document.description,
        "Status": ledger.payment_status(document),
        "Type": document.kind,
        "ContactName": ledger.contact_name(document),
        "ContactGuid": document.contact_guid,
        "TotalInclVat": totals.incl_vat,
        "TotalExclVat": totals.excl_vat,
        "TotalInclVatInDkk": round_half_up(totals.incl_vat * rate / _HUNDRED),
        "TotalExclVatInDkk": round_half_up(totals.excl_vat * rate / _HUNDRED),
        "MailOutStatus": "NotSent",
        "LatestMailOutType": None,
        "Currency": document.currency,
        "CreatedAt": document.created_at,
        "UpdatedAt": document.updated_at,
        "DeletedAt": document.deleted_at,
    }


def payment_model(payment: Payment) -> dict[str, Any]:
    """`PaymentReadModel`: amounts in the document's currency, `ExchangeRate` DKK per 100."""
    rate = _HUNDRED
    if payment.document.currency != "DKK":
        rate = round_half_up(payment.amount_dkk * _HUNDRED / payment.amount, 4)
    return {
        "Guid": payment.guid,
        "DepositAccountNumber": payment.deposit_account,
        "Currency": payment.document.currency,
        "ExchangeRate": rate,
        "PaymentClass": payment.document.kind,
        "RelatedVoucherId": payment.related_voucher_guid,
        "ExternalReference": payment.external_reference,
        "PaymentDate": payment.payment_date,
        "Description": payment.description,
        "Amount": payment.amount,
    }


def payments_model(document: SalesDocument) -> dict[str, Any]:
    """`InvoicePaymentsModel`."""
    return {
        "Payments": [payment_model(payment) for payment in document.payments],
        "RemainingAmount": document.remaining,
        "PaidAmount": document.paid,
        "InvoiceTotalIncludingReminderExpenses": document.totals.incl_vat,
        "RemainderAsFeeAvailable": document.status == "Booked" and document.remaining > 0,
    }


def voucher_model(voucher: ManualVoucher) -> dict[str, Any]:
    """`ManuelVoucherReadModel`."""
    lines = [
        {
            "Description": line.description,
            "AmountExclVatValue": line.excl_vat,
            "AmountInclVatValue": line.incl_vat,
            "VatAmountValue": line.vat_amount,
            "AccountNumber": line.account_number,
            "BalancingAccountNumber": line.balancing_account_number,
            "AccountVatCode": line.account_vat_code,
            "BalancingAccountVatCode": line.balancing_account_vat_code,
            "CurrencyKey": "DKK",
            "AmountInForeignCurrency": None,
        }
        for line in voucher.lines
    ]
    return {
        "VoucherNumber": voucher.number,
        "VoucherDate": voucher.voucher_date,
        "TotalInclVat": sum((line.incl_vat for line in voucher.lines), Decimal("0.00")),
        "TotalExclVat": sum((line.excl_vat for line in voucher.lines), Decimal("0.00")),
        "FileGuid": voucher.file.guid if voucher.file else None,
        "Guid": voucher.guid,
        "CreditNoteFor": None,
        "Status": voucher.status,
        "Lines": lines,
        "Timestamp": voucher.timestamp,
        "ExternalReference": voucher.external_reference,
        "BookedByType": f"API ({voucher.booked_by})" if voucher.booked_by else None,
        "BookedByUsername": None,
        "BookingTime": voucher.booked_at.date() if voucher.booked_at else None,
    }


def file_model(stored: StoredFile) -> dict[str, Any]:
    """`FilteredFileReadModel` with its `FileLinkReadModel`s."""
    return {
        "FileGuid": stored.guid,
        "Name": stored.name,
        "Extension": stored.extension,
        "Size": stored.size,
        "UploadedAt": stored.uploaded_at,
        "Note": None,
        "NumberOfPages": None,
        "Linked": [
            {
                "VoucherId": link.voucher.id,
                "VoucherGuid": link.voucher.guid,
                "LinkedAt": link.linked_at,
            }
            for link in stored.links
        ],
        "UploadedBy": "API",
    }


def vat_region(country_key: str) -> str:
    country = country_key.upper()
    return "DK" if country == "DK" else "EU" if country in _EU else "World"


def line_amounts(line: DocumentLine, *, lines_incl_vat: bool) -> tuple[Decimal, ...]:
    """Display figures: (base excl. VAT, base incl. VAT, total excl. VAT, total incl. VAT)."""
    if line.line_type != "Product":
        return ZERO, ZERO, ZERO, ZERO
    if lines_incl_vat:
        return (
            net_of(line.base_amount, line.rate),
            line.base_amount,
            net_of(line.total, line.rate),
            line.total,
        )
    return (
        line.base_amount,
        gross_of(line.base_amount, line.rate),
        line.total,
        gross_of(line.total, line.rate),
    )
