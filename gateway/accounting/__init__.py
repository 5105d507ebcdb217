"""Orders and refunds as documents in the books: which account each amount goes to, how each
line is written so that Dinero's arithmetic gives back the shop's amount to the øre, and the
totals Dinero will compute. Its types are the books' own (`model`), not any system's request
bodies: a backend turns a draft into its own (Dinero's: `tenants.dinero.bodies`).

`model` holds the lines and languages, `accounts` chooses the accounts by VAT treatment,
`charges` groups what a document charges for, `lines` writes the invoice lines, `totals` is
Dinero's arithmetic, `texts` the words on the documents, `documents` builds the invoices and
credit notes and `errors` says why one cannot be built. `vouchers` builds the same orders and
refunds as manual vouchers instead (for shops that issue their own invoices), with
`voucher_amounts` for what each sales account receives and Dinero's arithmetic on a voucher
line. The names below are the package's interface; import them from `gateway.accounting`.
"""

from gateway.accounting.accounts import (
    DANISH_VAT,
    SELLER_COUNTRY,
    AccountPlan,
    InvalidAccountPlan,
    MissingAccount,
    Treatment,
    vat_errors,
    vat_treatment,
)
from gateway.accounting.documents import (
    COPENHAGEN,
    DocumentDraft,
    DocumentKind,
    copenhagen_date,
    credit_note_for_refund,
    full_credit_for,
    invoice_for,
    remaining_credit_for,
)
from gateway.accounting.errors import (
    ROUNDING_LIMIT,
    AccountingError,
    CannotMatchTotal,
    VatMismatch,
)
from gateway.accounting.model import DocumentLine, Language, LineKind, Unit, VoucherLine
from gateway.accounting.texts import PLACEHOLDERS, InvalidTemplate, check_template, invoice_text
from gateway.accounting.totals import Totals, allocate, document_totals, line_total
from gateway.accounting.voucher_amounts import NO_VAT_CODE, SalesAmount, line_postings
from gateway.accounting.vouchers import (
    VOUCHER_CURRENCY,
    CannotMatchVoucher,
    NotDkk,
    VoucherDraft,
    VoucherKind,
    cancellation_voucher,
    payment_voucher,
    refund_voucher,
    sale_voucher,
)

__all__ = [
    "COPENHAGEN",
    "DANISH_VAT",
    "NO_VAT_CODE",
    "PLACEHOLDERS",
    "ROUNDING_LIMIT",
    "SELLER_COUNTRY",
    "VOUCHER_CURRENCY",
    "AccountPlan",
    "AccountingError",
    "CannotMatchTotal",
    "CannotMatchVoucher",
    "DocumentDraft",
    "DocumentKind",
    "DocumentLine",
    "InvalidAccountPlan",
    "InvalidTemplate",
    "Language",
    "LineKind",
    "MissingAccount",
    "NotDkk",
    "SalesAmount",
    "Totals",
    "Treatment",
    "Unit",
    "VatMismatch",
    "VoucherDraft",
    "VoucherKind",
    "VoucherLine",
    "allocate",
    "cancellation_voucher",
    "check_template",
    "copenhagen_date",
    "credit_note_for_refund",
    "document_totals",
    "full_credit_for",
    "invoice_for",
    "invoice_text",
    "line_postings",
    "line_total",
    "payment_voucher",
    "refund_voucher",
    "remaining_credit_for",
    "sale_voucher",
    "vat_errors",
    "vat_treatment",
]
