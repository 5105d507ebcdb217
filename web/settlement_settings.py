"""The settlement part of a shop's settings form: whether payments are registered in Dinero,
the deposit accounts they go to (a fallback and one per payment method), the document type
(invoice, or a voucher carrying the shop's own invoice) and the receivable account that
unpaid orders are booked against in voucher mode.

Accounts are checked against the organisation's own lists: deposit accounts against
`/accounts/deposit` (hidden ones are not offered), the receivable account against the chart
of entry accounts. When a list cannot be read, the current choice can be kept but no new
one made; when it can, every chosen account must be in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, cast

from starlette.datastructures import FormData

from tenants.shops.settings import (
    DEFAULT_ACCOUNT,
    DOCUMENT_KINDS,
    PAYMENT_METHODS,
    UNPAID_TRIGGERS,
    DocumentKind,
    ShopSettings,
)
from web import i18n
from web.org_accounts import Chart, Deposits, takes_vat

# The fallback first, then one per payment method of the ingest API.
ACCOUNT_KEYS: Final = (DEFAULT_ACCOUNT, *PAYMENT_METHODS)
_ACCOUNT: Final = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class SettlementSent:
    """The settlement fields as sent (or as stored), exactly as the page shows them back."""

    register_payments: bool
    payment_accounts: dict[str, str]  # ACCOUNT_KEYS → account number, "" for none
    document_kind: str
    receivable_account: str

    @classmethod
    def of_shop(cls, current: ShopSettings) -> SettlementSent:
        return cls(
            register_payments=current.register_payments,
            payment_accounts={k: str(current.payment_accounts.get(k, "")) for k in ACCOUNT_KEYS},
            document_kind=current.document_kind,
            receivable_account=str(current.receivable_account or ""),
        )

    @classmethod
    def of_form(cls, form: FormData) -> SettlementSent:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value.strip() if isinstance(value, str) else ""

        return cls(
            # A checkbox: sent when ticked, absent when not.
            register_payments=text("register_payments") == "on",
            payment_accounts={k: text(f"payment_account_{k}") for k in ACCOUNT_KEYS},
            document_kind=text("document_kind"),
            receivable_account=text("receivable_account"),
        )


@dataclass(frozen=True)
class Settlement:
    """Validated settlement settings, ready to store."""

    register_payments: bool
    payment_accounts: dict[str, int]
    document_kind: DocumentKind
    receivable_account: int | None


def deposits_needed(sent: SettlementSent, current: ShopSettings) -> bool:
    """Only a newly chosen deposit account needs the list (and so maybe a call to Dinero)."""
    return any(
        value and current.payment_accounts.get(key) != _number(value)
        for key, value in sent.payment_accounts.items()
    )


def chart_needed(sent: SettlementSent, current: ShopSettings) -> bool:
    value = sent.receivable_account
    return bool(value) and current.receivable_account != _number(value)


def _number(value: str) -> int | None:
    return int(value) if _ACCOUNT.match(value) else None


def method_labels(t: i18n.Translator) -> dict[str, str]:
    return {
        DEFAULT_ACCOUNT: t("Every payment (fallback)"),
        "card": t("Card"),
        "mobilepay": t("MobilePay"),
        "bank_transfer": t("Bank transfer"),
        "invoice": t("Pay by invoice"),
        "other": t("Other payment methods"),
    }


def validate_settlement(
    t: i18n.Translator,
    sent: SettlementSent,
    current: ShopSettings,
    *,
    trigger: str,
    deposits: Deposits,
    chart: Chart,
) -> tuple[Settlement | None, dict[str, list[str]]]:
    """The settlement settings to store, or every problem by field (and nothing)."""
    errors: dict[str, list[str]] = {}
    if sent.document_kind not in DOCUMENT_KINDS:
        errors["document_kind"] = [t("Choose how orders are sent to Dinero.")]
    labels = method_labels(t)
    accounts: dict[str, int] = {}
    for key in ACCOUNT_KEYS:
        value = sent.payment_accounts[key]
        problem = _deposit_problem(t, value, current.payment_accounts.get(key), deposits)
        if problem:
            errors[f"payment_account_{key}"] = [f"{labels[key]}: {problem}"]
        elif value:
            accounts[key] = int(value)
    if DEFAULT_ACCOUNT not in accounts and f"payment_account_{DEFAULT_ACCOUNT}" not in errors:
        if sent.register_payments:
            errors[f"payment_account_{DEFAULT_ACCOUNT}"] = [
                t(
                    "Choose the deposit account payments go to: it is needed while payments "
                    "are registered in Dinero."
                )
            ]
        elif sent.document_kind == "voucher":
            errors[f"payment_account_{DEFAULT_ACCOUNT}"] = [
                t(
                    "Choose the deposit account payments go to: a paid order's voucher is "
                    "booked against it."
                )
            ]
    receivable: int | None = None
    problem = _receivable_problem(t, sent.receivable_account, current, chart)
    if problem:
        errors["receivable_account"] = [problem]
    elif sent.receivable_account:
        receivable = int(sent.receivable_account)
    elif sent.document_kind == "voucher" and trigger in UNPAID_TRIGGERS:
        errors["receivable_account"] = [
            t(
                "Choose the receivable account: orders are sent when they are {trigger}, "
                "maybe before they are paid, and an unpaid order's voucher is booked "
                "against it.",
                trigger=t("created") if trigger == "created" else t("shipped"),
            )
        ]
    if errors:
        return None, errors
    return (
        Settlement(
            register_payments=sent.register_payments,
            payment_accounts=accounts,
            document_kind=cast(DocumentKind, sent.document_kind),
            receivable_account=receivable,
        ),
        {},
    )


def _deposit_problem(
    t: i18n.Translator, value: str, kept: int | None, deposits: Deposits
) -> str | None:
    if not value:
        return None
    number = _number(value)
    if number is None or number == 0:
        return t("not an account number.")
    if deposits.accounts is None:
        if number == kept:
            return None  # kept as it is: allowed while the list cannot be read
        return t(
            "the organisation's deposit accounts cannot be read right now, so only the "
            "current account can be kept."
        )
    if deposits.get(number) is None:
        return t(
            "account {number} is not one of the organisation's deposit accounts.", number=number
        )
    return None


def _receivable_problem(
    t: i18n.Translator, value: str, current: ShopSettings, chart: Chart
) -> str | None:
    if not value:
        return None
    label = t("Receivable account")
    number = _number(value)
    if number is None or number == 0:
        return f"{label}: {t('not an account number.')}"
    if chart.accounts is None:
        if number == current.receivable_account:
            return None
        return f"{label}: " + t(
            "the chart of accounts cannot be read right now, so only the current account "
            "can be kept."
        )
    account = chart.get(number)
    if account is None:
        return f"{label}: " + t(
            "account {number} is not in the organisation's chart.", number=number
        )
    if takes_vat(account):
        return f"{label}: " + t(
            "account {number} carries VAT; a receivable account takes none.", number=number
        )
    return None
