"""`gateway sources preview`: what the gateway would book for a platform's order, without a
database, the network or any side effect.

The order (and an optional refund) in the platform's own JSON goes through the same mapping a
webhook delivery does, then through the accounting rules under default shop settings: trigger
`paid`, booked invoices, the standard chart's accounts (`AccountPlan()`), Danish texts. An
unpaid, voided or cancelled order owes no documents; each refund of a paid order owes a credit
note. A payload the gateway would refuse prints the problem (as the ingest API answers it) and
exits 1. `--account ROLE=NUMBER` sets an account the way a shop's settings do (the standard
chart has none for gift cards sold, so an order selling one is refused until one is given).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from gateway.accounting import (
    AccountingError,
    AccountPlan,
    DocumentDraft,
    InvalidAccountPlan,
    VatMismatch,
    copenhagen_date,
    credit_note_for_refund,
    invoice_for,
    vat_errors,
)
from gateway.orders import Event, FieldError, InconsistentOrder, InvalidEvent, canonical
from gateway.orders.fields import load_object
from gateway.shopify import mapping as shopify
from gateway.woocommerce import mapping as woocommerce

PLATFORMS: Final = ("shopify", "woocommerce")
# The defaults a new shop starts with (see the shops table's defaults).
SHOP_NAME: Final = "Preview"
TEXT_TEMPLATE: Final = "{shop} — order {number}"
LANGUAGE: Final = "da-DK"
# The ingest API's problem types (web/ingest.py), so a refusal reads the same everywhere.
_INVALID = ("/api/problems/invalid-event", "The event is invalid")
_INCONSISTENT = ("/api/problems/inconsistent-order", "The amounts do not add up")
_VAT_MISMATCH = ("/api/problems/vat-mismatch", "The VAT rates do not fit the customer")
_NOT_BOOKABLE = ("about:blank", "The order cannot be booked")


class Refusal(Exception):
    """What the gateway would answer instead of booking: an RFC 9457 problem."""

    def __init__(self, kind: tuple[str, str], detail: str, errors: Sequence[FieldError]) -> None:
        super().__init__(detail)
        self.problem: dict[str, Any] = {
            "type": kind[0],
            "title": kind[1],
            "status": 422,
            "detail": detail,
        }
        if errors:
            self.problem["errors"] = [{"pointer": e.pointer, "detail": e.message} for e in errors]


def preview(
    order_text: str,
    refund_text: str | None = None,
    platform: str = "shopify",
    plan: AccountPlan | None = None,
) -> dict[str, Any]:
    """The canonical order and the documents it owes now, for a platform's order JSON (bare,
    as webhooks carry it, or wrapped as `{"order": …}`) and a refund's. A WooCommerce order's
    `refunds` is only a summary, so its refunds are the one given. Raises `Refusal`."""
    try:
        order_json = _unwrapped(load_object(order_text), "order")
        refund_json = (
            None if refund_text is None else _unwrapped(load_object(refund_text), "refund")
        )
        if platform == "woocommerce":
            events = woocommerce.order_events(
                order_json, refunds=() if refund_json is None else (refund_json,)
            )
        else:
            events = shopify.order_events(order_json)
            if refund_json is not None:
                extra = shopify.refund_event(events[0].order, refund_json)
                if all(event.id != extra.id for event in events):
                    events.append(extra)
    except InconsistentOrder as exc:
        raise Refusal(_INCONSISTENT, str(exc), exc.errors) from None
    except InvalidEvent as exc:
        raise Refusal(_INVALID, str(exc), exc.errors) from None
    order = events[0].order
    mismatches = [error for event in events for error in vat_errors(event.order, event.refund)]
    if mismatches:
        raise Refusal(_VAT_MISMATCH, "; ".join(e.message for e in mismatches), mismatches)
    try:
        documents = _documents(events, plan or AccountPlan())
    except VatMismatch as exc:
        raise Refusal(_VAT_MISMATCH, str(exc), exc.errors) from None
    except AccountingError as exc:
        raise Refusal(_NOT_BOOKABLE, str(exc), []) from None
    return {"order": canonical(order), "documents": documents}


def _documents(events: Sequence[Event], plan: AccountPlan) -> list[dict[str, Any]]:
    """What trigger `paid` makes the order owe: its invoice once paid (none when cancelled
    unpaid) and a credit note per refund."""
    types = {event.type for event in events}
    if "order.paid" not in types or "order.cancelled" in types:
        return []
    order = events[0].order
    drafts = [
        invoice_for(
            order, shop_name=SHOP_NAME, text_template=TEXT_TEMPLATE, plan=plan, language=LANGUAGE
        )
    ]
    for event in events:
        if event.refund is not None:
            drafts.append(
                credit_note_for_refund(
                    order,
                    event.refund,
                    shop_name=SHOP_NAME,
                    text_template=TEXT_TEMPLATE,
                    plan=plan,
                    language=LANGUAGE,
                    date=copenhagen_date(event.occurred_at),
                )
            )
    return [_document(draft, plan) for draft in drafts]


def _document(draft: DocumentDraft, plan: AccountPlan) -> dict[str, Any]:
    lines = []
    for line in draft.lines:
        shown: dict[str, Any] = {
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_price": str(line.amount),
            "account": line.account,
            "vat_rate": str(plan.vat_rate_of(line.account)),
        }
        if line.discount:
            shown["discount_percent"] = str(line.discount)
        lines.append(shown)
    return {
        "kind": draft.kind,
        "currency": draft.currency,
        "lines": lines,
        "total_excl_vat": _money(draft.totals.total_excl_vat),
        "total_vat": _money(draft.totals.total_vat),
        "total_incl_vat": _money(draft.totals.total_incl_vat),
    }


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _unwrapped(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """`{"order": {…}}` as API answers and library fixtures wrap it, or the bare object."""
    inner = document.get(name)
    if len(document) == 1 and isinstance(inner, Mapping):
        return inner
    return document


def run(
    platform: str, order_path: str, refund_path: str | None, accounts: Sequence[str] = ()
) -> tuple[int, str, str]:
    """(exit status, standard output, standard error) of the command; `accounts` are
    `ROLE=NUMBER` choices over the standard chart."""
    if platform not in PLATFORMS:
        return (
            2,
            "",
            (
                f"gateway sources preview: {platform} is not supported yet; "
                f"supported: {', '.join(PLATFORMS)}\n"
            ),
        )
    try:
        order_text = Path(order_path).read_text(encoding="utf-8")
        refund_text = None if refund_path is None else Path(refund_path).read_text(encoding="utf-8")
    except OSError as exc:
        return 2, "", f"gateway sources preview: cannot read {exc.filename}: {exc.strerror}\n"
    except UnicodeDecodeError as exc:
        return 2, "", f"gateway sources preview: the file is not UTF-8: {exc}\n"
    try:
        plan = AccountPlan.with_overrides(
            dict(choice.partition("=")[::2] for choice in accounts if choice)
        )
    except InvalidAccountPlan as exc:
        return 2, "", f"gateway sources preview: --account: {exc}\n"
    try:
        result = preview(order_text, refund_text, platform, plan)
    except Refusal as refusal:
        return 1, _dumped(refusal.problem), ""
    return 0, _dumped(result), ""


def _dumped(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
