"""Request-body rules, following the schemas of Dinero's OpenAPI description.

Each model lists its properties with their JSON type, whether null is allowed, length limits
and any extra rule the description states in words (languages, dates, percentages...). `bind`
checks a body against one (see `binding` for how) and reports every violation together in one
400 whose `validationErrors` maps the property's path (e.g. `ProductLines[1].Quantity`) to what
is wrong. Rules that need the organisation's books (does the account or contact exist?) live in
the ledger, not here.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.binding import Check, Model, Prop, bind_object
from sandbox.errors import validation_error

_INT64 = 2**63 - 1


def bind(model: Model, body: object) -> dict[str, Any]:
    """The body bound to `model`, or a 400 listing every violation."""
    errors: dict[str, str] = {}
    bound = bind_object(model, body, "", errors)
    if errors:
        raise validation_error(f"The {model.name} is invalid.", **errors)
    return bound


def bind_optional(model: Model, body: object | None) -> dict[str, Any]:
    """For endpoints whose body may be left out entirely (an empty body binds as `{}`)."""
    return bind(model, {} if body is None else body)


# --- rules the schemas state in words -------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
LANGUAGES = ("da-DK", "en-GB")
UNITS = frozenset(
    [
        "hours",
        "parts",
        "km",
        "day",
        "week",
        "month",
        "kilogram",
        "cubicMetre",
        "set",
        "litre",
        "box",
        "case",
        "carton",
        "metre",
        "package",
        "shipment",
        "squareMetre",
        "session",
        "tonne",
    ]
)
_UNITS_BY_LOWER = {unit.lower(): unit for unit in UNITS}
PAYMENT_CONDITIONS = ("Netto", "NettoCash", "CurrentMonthOut", "Paid")


def parse_date(text: str) -> date | None:
    """A `YYYY-MM-DD` date, or None when the text is not one."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _date(value: str) -> str | None:
    return None if parse_date(value) else f"{value!r} is not a date in the format YYYY-MM-DD."


def _one_of(*allowed: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in allowed else f"Must be one of {', '.join(allowed)}."

    return check


def _currency(value: str) -> str | None:
    return None if _CURRENCY.fullmatch(value) else "Must be a three-letter currency code."


def _country(value: str) -> str | None:
    return None if _COUNTRY.fullmatch(value) else "Must be a two-letter country code."


def _between(low: int, high: int) -> Check:
    def check(value: Decimal | int) -> str | None:
        return None if low <= value <= high else f"Must be between {low} and {high}."

    return check


def _nonzero(value: Decimal) -> str | None:
    return None if value != 0 else "Must be different from 0."


def _at_most_two_decimals(value: Decimal) -> str | None:
    return None if value == value.quantize(Decimal("0.01")) else "At most two decimals."


def _amount(value: Decimal) -> str | None:
    return _nonzero(value) or _at_most_two_decimals(value)


def _check_line(line: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    line_type = {"product": "Product", "text": "Text"}.get((line["LineType"] or "Product").lower())
    if line_type is None:
        problems["LineType"] = "Must be Product or Text."
    if line["ProductGuid"] is None and not line["Description"]:
        problems["Description"] = "Description is required when no ProductGuid is given."
    if line_type == "Product":
        unit = line["Unit"]
        if unit is None:
            problems["Unit"] = "Unit is required when LineType is Product."
        elif unit.lower() not in _UNITS_BY_LOWER:
            problems["Unit"] = f"Unknown unit {unit!r}."
        else:
            line["Unit"] = _UNITS_BY_LOWER[unit.lower()]
    line["LineType"] = line_type
    return problems


def _check_payment_condition(document: dict[str, Any]) -> dict[str, str]:
    kind, days = document["PaymentConditionType"], document["PaymentConditionNumberOfDays"]
    if kind in ("NettoCash", "Paid") and days is not None:
        return {"PaymentConditionNumberOfDays": f"Must be null when the condition is {kind}."}
    if days is not None and days < 0:
        return {"PaymentConditionNumberOfDays": "Must not be negative."}
    return {}


# --- the models ------------------------------------------------------------------------------

_TEXT = Prop("string")
_REFERENCE = Prop("string", max_length=128)
_GUID = Prop("uuid")
_TIMESTAMP = Prop("string", nullable=False, min_length=1)

CONTACT_CREATE = Model(
    "ContactCreateModel",
    {
        "ContactGuid": _GUID,
        "ExternalReference": _REFERENCE,
        "Name": Prop("string", nullable=False, min_length=1),
        "Street": _TEXT,
        "ZipCode": _TEXT,
        "City": _TEXT,
        "CountryKey": Prop("string", nullable=False, min_length=1, check=_country),
        "Phone": _TEXT,
        "Email": _TEXT,
        "Webpage": _TEXT,
        "AttPerson": _TEXT,
        "VatNumber": _TEXT,
        "EanNumber": _TEXT,
        "SENumber": _TEXT,
        "PNumber": _TEXT,
        "PaymentConditionType": Prop(
            "string", check=_one_of("Netto", "NettoCash", "CurrentMonthOut")
        ),
        "PaymentConditionNumberOfDays": Prop("integer"),
        "IsPerson": Prop("boolean", nullable=False),
        "IsMember": Prop("boolean", nullable=False),
        "MemberNumber": _TEXT,
        "UseCvr": Prop("boolean", nullable=False),
        "CompanyTypeKey": _TEXT,
        "InvoiceMailOutOptionKey": Prop("string", check=_one_of("VAT", "GLN", "SE", "P")),
        "PreferredInvoiceLanguageKey": _TEXT,
        "PreferredInvoiceCurrencyKey": _TEXT,
    },
    frozenset({"CountryKey", "IsMember", "IsPerson", "Name", "UseCvr"}),
    check=_check_payment_condition,
)

INVOICE_LINE = Model(
    "InvoiceLinesCreateModel",
    {
        "BaseAmountValue": Prop("number", nullable=False),
        "ProductGuid": _GUID,
        "Description": _TEXT,
        "Comments": _TEXT,
        "Quantity": Prop("number", nullable=False),
        "AccountNumber": Prop("integer", nullable=False),
        "Unit": _TEXT,
        "Discount": Prop("number", nullable=False, check=_between(0, 100)),
        "LineType": _TEXT,
    },
    frozenset({"AccountNumber", "BaseAmountValue", "Discount", "Quantity"}),
    check=_check_line,
)

_SALES_DOCUMENT = {
    "PaymentConditionNumberOfDays": Prop("integer"),
    "PaymentConditionType": Prop("string", check=_one_of(*PAYMENT_CONDITIONS)),
    "ReminderFee": Prop("number", check=_between(0, 100)),
    "ReminderInterestRate": Prop("number", check=_between(0, 100)),
    "IsMobilePayInvoiceEnabled": Prop("boolean"),
    "IsPensoPayEnabled": Prop("boolean"),
    "ContactGuid": _GUID,
    "Guid": _GUID,
    "ShowLinesInclVat": Prop("boolean"),
    "InvoiceTemplateId": _GUID,
    "Currency": Prop("string", check=_currency),
    "Language": Prop("string", check=_one_of(*LANGUAGES)),
    "ExternalReference": _REFERENCE,
    "Description": _TEXT,
    "Comment": _TEXT,
    "Date": Prop("string", check=_date),
    "ProductLines": Prop("array", nullable=False, min_length=1, items=INVOICE_LINE),
    "Address": _TEXT,
}
# Invoice-only properties: payment terms and payment services.
_INVOICE_ONLY = frozenset(
    {
        "PaymentConditionNumberOfDays",
        "PaymentConditionType",
        "ReminderFee",
        "ReminderInterestRate",
        "IsMobilePayInvoiceEnabled",
        "IsPensoPayEnabled",
    }
)

INVOICE_CREATE = Model(
    "InvoiceCreateModel",
    _SALES_DOCUMENT,
    frozenset({"ProductLines"}),
    check=_check_payment_condition,
)
INVOICE_FETCH = Model(
    "InvoiceCreateFetchModel", INVOICE_CREATE.props, INVOICE_CREATE.required, INVOICE_CREATE.check
)
CREDIT_NOTE_CREATE = Model(
    "SalesCreditNoteCreateModel",
    {
        "CreditNoteFor": _GUID,
        **{k: v for k, v in _SALES_DOCUMENT.items() if k not in _INVOICE_ONLY},
    },
    frozenset({"ProductLines"}),
)
CREDIT_NOTE_FETCH = Model(
    "SalesCreditNoteCreateFetchModel", CREDIT_NOTE_CREATE.props, CREDIT_NOTE_CREATE.required
)

BOOK = Model(
    "BookModel",
    {"Number": Prop("integer", int_max=_INT64, check=_between(1, _INT64)), "Timestamp": _TIMESTAMP},
    frozenset({"Timestamp"}),
)
TIMESTAMP = Model("TimestampObject", {"Timestamp": _TEXT})
REQUIRED_TIMESTAMP = Model(
    "RequiredTimestampObject", {"Timestamp": _TIMESTAMP}, frozenset({"Timestamp"})
)

PAYMENT_CREATE = Model(
    "PaymentCreateModel",
    {
        "Timestamp": _TIMESTAMP,
        "DepositAccountNumber": Prop("integer", nullable=False),
        "RemainderIsFee": Prop("boolean", nullable=False),
        "AmountInForeignCurrency": Prop("number", check=_amount),
        "ExternalReference": _REFERENCE,
        "PaymentDate": Prop("string", check=_date),
        "Description": Prop("string", nullable=False, min_length=1),
        "Amount": Prop("number", nullable=False, check=_amount),
    },
    frozenset({"Amount", "DepositAccountNumber", "Description", "RemainderIsFee", "Timestamp"}),
)

VOUCHER_LINE = Model(
    "ManuelVoucherLineCreateModel",
    {
        "Description": _TEXT,
        "AccountNumber": Prop("integer"),
        "BalancingAccountNumber": Prop("integer"),
        "Amount": Prop("number", nullable=False, check=_amount),
        "AccountVatCode": _TEXT,
        "BalancingAccountVatCode": _TEXT,
    },
    frozenset({"Amount"}),
)
VOUCHER_CREATE = Model(
    "ManuelVoucherCreateModel",
    {
        "VoucherDate": Prop("string", check=_date),
        "Lines": Prop("array", items=VOUCHER_LINE),
        "FileGuid": _TEXT,
        "ExternalReference": _REFERENCE,
    },
)
