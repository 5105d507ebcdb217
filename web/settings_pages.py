"""A shop's settings: when orders post and how, the invoice text (with a live preview), the
accounts (chosen from the organisation's own chart), settlement (payments, deposit accounts,
invoice or voucher: web/settlement_settings.py), and the ingest secret.

Saving checks everything and stores nothing unless all of it is valid (422 with every
problem, the form as it was sent). The form is a plain POST, not boosted: htmx would not
swap a 422, and the page must show its problems with or without JavaScript. Without
JavaScript the Preview button submits the form to the preview address, which answers the
whole page with the text as typed; with htmx the textarea asks for just `#invoice-preview`.

The chart of accounts and the deposit accounts come from Dinero (web/org_accounts.py). When
they cannot be had (no connection, Dinero unreachable, no slot free) the page says so, and
the current accounts can still be kept, or set back to the standard ones.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, cast

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.accounting import (
    PLACEHOLDERS,
    AccountPlan,
    InvalidAccountPlan,
    check_template,
    invoice_text,
)
from gateway.orders import parse_order
from tenants.connections import service as connections
from tenants.dashboard import shop as dashboard
from tenants.shops import ingest_secrets
from tenants.shops import repository as shops
from tenants.shops import settings as shop_settings
from tenants.shops.settings import ShopSettings
from web import auth, deps, i18n
from web.org_accounts import VAT_ROLES, Chart, Deposits, chart_for, deposits_for, fits
from web.settlement_settings import (
    ACCOUNT_KEYS,
    SettlementSent,
    chart_needed,
    deposits_needed,
    method_labels,
    validate_settlement,
)
from web.shops import shop_for_request

log = logging.getLogger(__name__)

PREVIEW: Final = "invoice-preview"
_ACCOUNT: Final = re.compile(r"^[0-9]{1,9}$")

_STANDARD: Final = AccountPlan()
ROLES: Final = tuple(_STANDARD.roles())
_UNAVAILABLE: Final = "unreachable"  # a list not asked for: only current choices are kept


# --- the form ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """The form as sent (or as stored), exactly as the page shows it back."""

    trigger: str
    mode: str
    language: str
    invoice_text: str
    accounts: dict[str, str]  # role → account number, "" for the standard one
    settlement: SettlementSent

    @classmethod
    def of_shop(cls, current: ShopSettings) -> Submitted:
        return cls(
            trigger=current.trigger,
            mode=current.mode,
            language=current.language,
            invoice_text=current.invoice_text,
            accounts={r: str(current.account_overrides.get(r, "")) for r in ROLES},
            settlement=SettlementSent.of_shop(current),
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
    chart: Chart,
    deposits: Deposits | None = None,
) -> tuple[shop_settings.SettingsChange | None, dict[str, list[str]]]:
    """The change to store, or every problem by field (and nothing to store). Without the
    deposit accounts (`None`), only the current ones can be kept."""
    errors: dict[str, list[str]] = {}
    if sent.trigger not in shop_settings.TRIGGERS:
        errors["trigger"] = [t("Choose when an order becomes an invoice.")]
    if sent.mode not in shop_settings.MODES:
        errors["mode"] = [t("Choose whether invoices are booked or left as drafts.")]
    if sent.language not in shop_settings.LANGUAGES:
        errors["language"] = [t("Choose the invoices' language.")]
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
    }
    return {role: known.get(role, role) for role in ROLES}


def sample_preview(shop_name: str, template: str) -> str | None:
    """The invoice text for a sample order, or None when the template has problems."""
    if check_template(template):
        return None
    order = parse_order(
        dashboard.sample_order(
            external_id="1001", number="1001", now=datetime.now(UTC), language="da-DK"
        )
        | {"customer": _SAMPLE_CUSTOMER}
    )
    return invoice_text(template, shop_name=shop_name, order=order)


_SAMPLE_CUSTOMER: Final = {
    "name": "Karen Kunde",
    "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus C", "country": "DK"},
}


# --- pages -------------------------------------------------------------------------------------


async def _current(request: Request, shop: shops.Shop) -> ShopSettings:
    current = await shop_settings.shop_settings(deps.pool(request), shop.id)
    if current is None:  # deleted between the membership check and now
        raise HTTPException(404)
    return current


async def _page(
    request: Request,
    shop: shops.Shop,
    current: ShopSettings,
    sent: Submitted,
    *,
    errors: Mapping[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    t = i18n.translator(request)
    connection = await connections.for_shop(deps.pool(request), shop.id)
    context: dict[str, Any] = {
        "shop": shop,
        "tab": "settings",
        "current": current,
        "sent": sent,
        "errors": errors or {},
        "text_problems": template_problems(t, sent.invoice_text),
        "preview": sample_preview(shop.name, sent.invoice_text),
        "connection": connection,
        "chart": await chart_for(request, connection),
        "deposits": await deposits_for(request, connection),
        "account_keys": ACCOUNT_KEYS,
        "method_labels": method_labels(t),
        "converted": _converted(request) if not errors else None,
        "roles": ROLES,
        "role_labels": role_labels(t),
        "standard": _STANDARD.roles(),
        "saved": request.query_params.get("saved") == "1" and not errors,
        "ingest_url": f"{deps.settings(request).base_url}/api/v1/shops/{shop.id}/events",
        "now": auth.now(),
    }
    return deps.render_page_or_partial(
        request,
        "shops/settings.html",
        "shops/_preview.html",
        context,
        target=PREVIEW,
        status_code=status_code,
    )


async def settings_page(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    current = await _current(request, shop)
    return await _page(request, shop, current, Submitted.of_shop(current))


async def save(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    form = await auth.checked_form(request, session)
    current = await _current(request, shop)
    sent = Submitted.of_form(form)
    connection = await connections.for_shop(deps.pool(request), shop.id)
    chart = None
    if _accounts_changed(sent, current) or chart_needed(sent.settlement, current):
        chart = await chart_for(request, connection)
    deposits = None
    if deposits_needed(sent.settlement, current):
        deposits = await deposits_for(request, connection)
    change, errors = validate(
        i18n.translator(request), sent, current, chart or Chart(None, _UNAVAILABLE), deposits
    )
    if change is None:
        return await _page(request, shop, current, sent, errors=errors, status_code=422)
    async with deps.pool(request).acquire() as conn, conn.transaction():
        saved = await shop_settings.save_settings(conn, shop.id, change, now=auth.now())
    converted = f"&converted={saved.converted}" if saved.converted else ""
    return RedirectResponse(f"/shops/{shop.id}/settings?saved=1{converted}", 303)


def _converted(request: Request) -> int | None:
    """How many documents the last save gave the new document type (from the redirect)."""
    value = request.query_params.get("converted", "")
    if request.query_params.get("saved") != "1" or not _ACCOUNT.match(value):
        return None
    return int(value)


def _accounts_changed(sent: Submitted, current: ShopSettings) -> bool:
    """Only a newly chosen account needs the chart (and so a call to Dinero)."""
    return any(
        value and current.account_overrides.get(role) != _number(value)
        for role, value in sent.accounts.items()
    )


def _number(value: str) -> int | None:
    return int(value) if _ACCOUNT.match(value) else None


async def preview(request: Request) -> Response:
    """The invoice text for a sample order: just `#invoice-preview` for htmx (the textarea
    sends `invoice_text`), else the settings page with that text in the form. Changes
    nothing, so it is a GET and needs no CSRF token."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    current = await _current(request, shop)
    template = request.query_params.get("invoice_text", current.invoice_text)
    sent = replace(Submitted.of_shop(current), invoice_text=template.replace("\r\n", "\n"))
    if deps.wants_partial(request, PREVIEW):
        t = i18n.translator(request)
        context = {
            "text_problems": template_problems(t, sent.invoice_text),
            "preview": sample_preview(shop.name, sent.invoice_text),
        }
        return deps.render_page_or_partial(
            request, "shops/settings.html", "shops/_preview.html", context, target=PREVIEW
        )
    return await _page(request, shop, current, sent)


async def preview_form(request: Request) -> Response:
    """The Preview button without JavaScript: the page again, with the whole form as sent
    and the text's preview. A POST, because the form carries its CSRF token, which does
    not belong in a URL. Stores nothing."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    form = await auth.checked_form(request, session)
    current = await _current(request, shop)
    return await _page(request, shop, current, Submitted.of_form(form))


# --- the ingest secret -------------------------------------------------------------------------


async def confirm_roll(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    overlap = int(ingest_secrets.DEFAULT_OVERLAP.total_seconds() // 3600)
    return deps.render(request, "shops/roll_secret.html", {"shop": shop, "hours": overlap})


async def roll(request: Request) -> Response:
    """A new ingest secret, shown this once: not cached, not kept in htmx's history."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    await auth.checked_form(request, session)
    now = auth.now()
    async with deps.pool(request).acquire() as conn, conn.transaction():
        secret = await ingest_secrets.roll_ingest_secret(
            conn, deps.vault(request), shop.id, now=now
        )
        await shop_settings.record_secret_rolled(conn, shop.id, now=now)
    context = {
        "shop": shop,
        "secret": secret,
        "old_until": now + ingest_secrets.DEFAULT_OVERLAP,
        "ingest_url": f"{deps.settings(request).base_url}/api/v1/shops/{shop.id}/events",
    }
    response = deps.render(request, "shops/secret.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/shops/{shop_id}/settings", settings_page, methods=["GET"]),
    Route("/shops/{shop_id}/settings", save, methods=["POST"]),
    Route("/shops/{shop_id}/settings/preview", preview, methods=["GET"]),
    Route("/shops/{shop_id}/settings/preview", preview_form, methods=["POST"]),
    Route("/shops/{shop_id}/ingest-secret", confirm_roll, methods=["GET"]),
    Route("/shops/{shop_id}/ingest-secret", roll, methods=["POST"]),
]
