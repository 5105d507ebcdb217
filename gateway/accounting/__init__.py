"""Orders and refunds as Dinero documents: which account each amount goes to, how each line is
written so that Dinero's arithmetic gives back the shop's amount to the øre, and the totals
Dinero will compute.

`accounts` chooses the accounts by VAT treatment, `charges` groups what a document charges for,
`lines` writes the invoice lines, `totals` is Dinero's arithmetic, `texts` the words on the
documents, `documents` builds the invoices and credit notes and `errors` says why one cannot be
built. The names below are the package's interface; import them from `gateway.accounting`.
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
from gateway.accounting.texts import PLACEHOLDERS, InvalidTemplate, check_template, invoice_text
from gateway.accounting.totals import Totals, allocate, dinero_line_total, dinero_totals

__all__ = [
    "COPENHAGEN",
    "DANISH_VAT",
    "PLACEHOLDERS",
    "ROUNDING_LIMIT",
    "SELLER_COUNTRY",
    "AccountPlan",
    "AccountingError",
    "CannotMatchTotal",
    "DocumentDraft",
    "DocumentKind",
    "InvalidAccountPlan",
    "InvalidTemplate",
    "MissingAccount",
    "Totals",
    "Treatment",
    "VatMismatch",
    "allocate",
    "check_template",
    "copenhagen_date",
    "credit_note_for_refund",
    "dinero_line_total",
    "dinero_totals",
    "full_credit_for",
    "invoice_for",
    "invoice_text",
    "remaining_credit_for",
    "vat_errors",
    "vat_treatment",
]
