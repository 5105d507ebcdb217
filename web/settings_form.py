"""A shop's settings form: the fields as sent (or as stored), every check of them, and the
invoice text a sample order would get. The pages that show and save it are in
web/settings_pages.py; the settlement fields are checked in web/settlement_settings.py.

The accounts are checked against the organisation's own chart (web/org_accounts.py). When it
cannot be had, the current accounts can still be kept, or set back to the standard ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

from starlette.datastructures import FormData

from gateway.accounting import (
    PLACEHOLDERS,
    AccountPlan,
    InvalidAccountPlan,
    check_template,
    invoice_text,
)
from gateway.orders import parse_order
from tenants.dashboard import sample_order as sample_orders
from tenants.shops import settings as shop_settings
from tenants.shops.settings import ShopSettings
from web import i18n
from web.org_accounts import VAT_ROLES, Chart, Deposits, fits
from web.settlement_settings import SettlementSent, validate_settlement

_ACCOUNT: Final = re.compile(r"^[0-9]{1,9}$")

_STANDARD: Final = AccountPlan()
ROLES: Final = tuple(_STANDARD.roles())
_UNAVAILABLE: Final = "unreachable"  # a list not asked for: only current choices are kept


@dataclass(frozen=True)
class Submitted:
    """The form as sent (or as stored), exactly as the page shows it back."""

    trigger: str
    mode: str
    language: str
    invoice_text: str
    accounts: dict[str, str]  # role → account number, "" for the standard one
    settlement: SettlementSent
    time_zone: str

    @classmethod
    def of_shop(cls, current: ShopSettings) -> Submitted:
        return cls(
            trigger=current.trigger,
            mode=current.mode,
            language=current.language,
            invoice_text=current.invoice_text,
            accounts={r: str(current.account_overrides.get(r, "")) for r in ROLES},
            settlement=SettlementSent.of_shop(current),
            time_zone=current.time_zone,
        )

    @classmethod
    def of_form(cls, form: FormData) -> Submitted:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value if isinstance(value, str) else ""

        return cls(
            trigger=text("trigger"),
            mode=text("mode"),
            language=text("language"),
            # Browsers send a textarea's line breaks as CRLF.
            invoice_text=text("invoice_text").replace("\r\n", "\n"),
            accounts={r: text(f"account_{r}").strip() for r in ROLES},
            settlement=SettlementSent.of_form(form),
            time_zone=text("time_zone").strip(),
        )


def template_problems(t: i18n.Translator, template: str) -> list[str]:
    """`check_template`'s verdict in the reader's language."""
    problems = []
    for problem in check_template(template):
        unknown = re.match(r"^unknown placeholder (.*): use ", problem)
        if problem.startswith("the text is longer than"):
            problems.append(t("The text is longer than {count} characters.", count=1000))
        elif problem.startswith("unbalanced"):
            problems.append(t("Braces are not matched: write {{ or }} for a brace itself."))
        elif unknown:
            problems.append(
                t(
                    "{placeholder} is not a placeholder: use {allowed}.",
                    placeholder=unknown[1],
                    allowed=", ".join("{" + name + "}" for name in PLACEHOLDERS),
                )
            )
        else:
            problems.append(problem)
    return problems


def validate(
    t: i18n.Translator,
    sent: Submitted,
    current: ShopSettings,
    chart: Chart | None = None,
    deposits: Deposits | None = None,
) -> tuple[shop_settings.SettingsChange | None, dict[str, list[str]]]:
    """The change to store, or every problem by field (and nothing to store). Without the
    chart or the deposit accounts (`None`), only the current ones can be kept."""
    chart = chart or Chart(None, _UNAVAILABLE)
    errors: dict[str, list[str]] = {}
    if sent.trigger not in shop_settings.TRIGGERS:
        errors["trigger"] = [t("Choose when an order becomes an invoice.")]
    if sent.mode not in shop_settings.MODES:
        errors["mode"] = [t("Choose whether invoices are booked or left as drafts.")]
    if sent.language not in shop_settings.LANGUAGES:
        errors["language"] = [t("Choose the invoices' language.")]
    if sent.time_zone not in shop_settings.time_zones():
        errors["time_zone"] = [t("Choose a time zone from the list.")]
    text_problems = template_problems(t, sent.invoice_text)
    if text_problems:
        errors["invoice_text"] = text_problems
    overrides: dict[str, int] = {}
    labels = role_labels(t)
    for role in ROLES:
        problem = _account_problem(t, role, sent.accounts[role], current, chart)
        if problem:
            errors[f"account_{role}"] = [f"{labels[role]}: {problem}"]
        elif sent.accounts[role]:
            overrides[role] = int(sent.accounts[role])
    if not any(key.startswith("account_") for key in errors):
        try:
            AccountPlan.with_overrides(overrides)
        except InvalidAccountPlan as exc:
            errors["accounts"] = [
                t("One account cannot take both VAT and no VAT: {problems}.", problems=str(exc))
            ]
    settlement, settlement_errors = validate_settlement(
        t,
        sent.settlement,
        current,
        trigger=sent.trigger,
        deposits=deposits or Deposits(None, _UNAVAILABLE),
        chart=chart,
    )
    errors |= settlement_errors
    if errors or settlement is None:
        return None, errors
    change = shop_settings.SettingsChange(
        trigger=cast(shop_settings.Trigger, sent.trigger),
        mode=cast(shop_settings.Mode, sent.mode),
        invoice_text=sent.invoice_text,
        language=cast(shop_settings.InvoiceLanguage, sent.language),
        account_overrides=overrides,
        register_payments=settlement.register_payments,
        payment_accounts=settlement.payment_accounts,
        document_kind=settlement.document_kind,
        receivable_account=settlement.receivable_account,
        time_zone=sent.time_zone,
    )
    return change, {}


def _account_problem(
    t: i18n.Translator, role: str, value: str, current: ShopSettings, chart: Chart
) -> str | None:
    if not value:
        return None  # the standard account
    if not _ACCOUNT.match(value) or int(value) == 0:
        return t("not an account number.")
    number = int(value)
    if current.account_overrides.get(role) == number:
        return None  # kept as it is: allowed even when the chart cannot be read now
    if chart.accounts is None:
        return t(
            "the chart of accounts cannot be read right now, so only the current or the "
            "standard account can be chosen."
        )
    account = chart.get(number)
    if account is None:
        return t("account {number} is not in the organisation's chart.", number=number)
    if not fits(role, account):
        if role in VAT_ROLES:
            return t("account {number} does not carry 25 % sales VAT (U25).", number=number)
        return t("account {number} has a VAT code that does not suit it.", number=number)
    return None


def accounts_changed(sent: Submitted, current: ShopSettings) -> bool:
    """Only a newly chosen account needs the chart (and so a call to Dinero)."""
    return any(
        value and current.account_overrides.get(role) != _number(value)
        for role, value in sent.accounts.items()
    )


def _number(value: str) -> int | None:
    return int(value) if _ACCOUNT.match(value) else None


def role_labels(t: i18n.Translator) -> dict[str, str]:
    """What each role of the account plan is for (a role added to the plan later shows
    under its own name until it gets a label here)."""
    known = {
        "goods_dk": t("Goods sold in Denmark (25 % VAT)"),
        "services_dk": t("Services sold in Denmark (25 % VAT)"),
        "goods_eu_business": t("Goods to businesses in the EU (reverse charge)"),
        "services_eu_business": t("Services to businesses in the EU (reverse charge)"),
        "goods_export": t("Goods outside the EU"),
        "services_export": t("Services outside the EU"),
        "shipping": t("Shipping (25 % VAT)"),
        "fees": t("Fees (25 % VAT)"),
        "no_vat": t("Sales without VAT"),
        "rounding": t("Rounding"),
        "tips": t("Tips (no VAT)"),
        "duties": t("Duties collected (no VAT)"),
        "gift_cards": t("Gift cards sold (a liability, no VAT)"),
    }
    return {role: known.get(role, role) for role in ROLES}


def sample_preview(shop_name: str, template: str) -> str | None:
    """The invoice text for a sample order, or None when the template has problems."""
    if check_template(template):
        return None
    order = parse_order(
        sample_orders.sample_order(
            external_id="1001", number="1001", now=datetime.now(UTC), language="da-DK"
        )
        | {"customer": _SAMPLE_CUSTOMER}
    )
    return invoice_text(template, shop_name=shop_name, order=order)


_SAMPLE_CUSTOMER: Final = {
    "name": "Karen Kunde",
    "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus C", "country": "DK"},
}
