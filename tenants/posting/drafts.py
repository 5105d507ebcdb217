"""What a document says in the books, whichever system keeps them: built when it is
posted, not when it was created, from the stored order (and refund) and the shop's settings
as they are at that moment. So an owner who fixes an account or the invoice text after a
refusal gets the fix on the retry.

Invoices, credit notes and manual vouchers come from `gateway.accounting` (a voucher with the
account the money side goes to, chosen here, and its
attachment: the shop's PDF, or a receipt from `gateway.receipt`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from gateway.accounting import (
    AccountingError,
    AccountPlan,
    DocumentDraft,
    InvalidAccountPlan,
    InvalidTemplate,
    NotDkk,
    VoucherDraft,
    cancellation_voucher,
    copenhagen_date,
    credit_note_for_refund,
    invoice_for,
    payment_voucher,
    refund_voucher,
    remaining_credit_for,
    sale_voucher,
)
from gateway.db import Pool
from gateway.orders import InvalidEvent, Order, Refund, parse_order, parse_refund
from gateway.receipt import receipt_pdf
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.posting.attempt import CannotPost
from tenants.posting.backend import PdfSource, VoucherPlan
from tenants.shops.settings import ShopSettings


async def draft_for(
    pool: Pool, document: Document, shop: ShopSettings, *, now: datetime
) -> tuple[Order, DocumentDraft]:
    """The order and the document's body: an invoice, the credit note for one refund
    (`payload.refund_id`), or a full credit of the order (`payload.full`, a cancellation)."""
    row = await _stored_order(pool, document)
    try:
        order = parse_order(row["payload"])
        common = _rules(shop)
        if document.kind == "invoice":
            return order, invoice_for(order, **common)
        if document.payload.get("full"):
            date = copenhagen_date(row["cancelled_at"] or now)
            credited = await _credited_refunds(pool, document, order)
            return order, remaining_credit_for(order, credited, **common, date=date)
        refund = await _refund(pool, document)
        parsed = parse_refund(refund["payload"], prices_include_vat=order.prices_include_vat)
        date = copenhagen_date(refund["occurred_at"])
        return order, credit_note_for_refund(order, parsed, **common, date=date)
    except (InvalidAccountPlan, InvalidTemplate) as exc:
        raise CannotPost(f"The shop's settings need fixing: {exc}", "settings") from exc
    except AccountingError as exc:
        raise CannotPost(str(exc), "accounting") from exc
    except InvalidEvent as exc:
        raise CannotPost(f"The stored order is not valid: {exc}", "invalid_order") from exc


async def _credited_refunds(pool: Pool, document: Document, order: Order) -> list[Refund]:
    """The refunds a cancellation's credit note leaves out (`payload.refund_ids`): those
    that had credit notes of their own when the order was cancelled."""
    ids = document.payload.get("refund_ids") or []
    if not ids:
        return []
    rows = await pool.fetch(
        "SELECT payload FROM refunds WHERE id = ANY($1::bigint[]) AND shop_id = $2 "
        "AND order_id = $3 ORDER BY occurred_at, id",
        ids,
        document.shop_id,
        document.order_id,
    )
    if len(rows) != len(set(ids)):
        raise CannotPost("A refund this cancellation leaves out is missing", "refund_missing")
    return [
        parse_refund(row["payload"], prices_include_vat=order.prices_include_vat) for row in rows
    ]


async def _refund(pool: Pool, document: Document) -> dict[str, Any]:
    refund_id = document.payload.get("refund_id")
    row = None
    if isinstance(refund_id, int):
        row = await pool.fetchrow(
            "SELECT payload, occurred_at FROM refunds "
            "WHERE id = $1 AND shop_id = $2 AND order_id = $3",
            refund_id,
            document.shop_id,
            document.order_id,
        )
    if row is None:
        label = document.kind.replace("_", " ")
        raise CannotPost(f"The refund this {label} is for is missing", "refund_missing")
    return dict(row)


# --- vouchers --------------------------------------------------------------------------------


async def _stored_order(pool: Pool, document: Document) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT payload, paid_at, cancelled_at FROM orders WHERE id = $1 AND shop_id = $2",
        document.order_id,
        document.shop_id,
    )
    if row is None:
        raise CannotPost("The order no longer exists", "order_missing")
    return row


def _rules(shop: ShopSettings) -> dict[str, Any]:
    """What the accounting rules take from the shop's settings (the plan may be refused)."""
    return {
        "shop_name": shop.name,
        "text_template": shop.invoice_text,
        "plan": AccountPlan.with_overrides(shop.account_overrides),
        "language": shop.language,
    }


async def voucher_for(
    pool: Pool, document: Document, shop: ShopSettings, *, now: datetime
) -> VoucherPlan:
    """The voucher for the order (seq 0), for one refund (`payload.refund_id`), or for a
    cancellation (`payload.full`, reversing `payload.remaining` or the whole order), from
    the shop's settings as they are now. The money side is the settlement account: the
    payment method's deposit account when the order is paid, else the receivable account."""
    row = await _stored_order(pool, document)
    try:
        order = parse_order(row["payload"])
        common = _rules(shop)
        refund: Refund | None = None
        if document.kind != "voucher":
            raise CannotPost(f"A {document.kind} is not a voucher", "internal")
        if document.parent_id is None:
            method = order.payment.method if order.payment else None
            account = settlement_account(shop, method, paid=row["paid_at"] is not None)
            voucher = sale_voucher(order, settlement_account=account, **common)
        elif document.payload.get("settlement"):
            voucher = payment_voucher(
                order,
                amount=document.amount,
                deposit_account=settlement_account(shop, _method(document), paid=True),
                receivable_account=await _parent_settlement_account(pool, document),
                shop_name=shop.name,
                text_template=shop.invoice_text,
                language=shop.language,
                date=copenhagen_date(row["paid_at"] or now),
            )
        elif document.payload.get("full"):
            method = order.payment.method if order.payment else None
            account = settlement_account(shop, method, paid=row["paid_at"] is not None)
            remaining = _remaining(document)
            date = copenhagen_date(row["cancelled_at"] or now)
            voucher = cancellation_voucher(
                order, remaining=remaining, settlement_account=account, **common, date=date
            )
        else:
            stored = await _refund(pool, document)
            refund = parse_refund(stored["payload"], prices_include_vat=order.prices_include_vat)
            paid_back = refund.payment or order.payment
            account = settlement_account(
                shop, paid_back.method if paid_back else None, paid=row["paid_at"] is not None
            )
            date = copenhagen_date(stored["occurred_at"])
            voucher = refund_voucher(order, refund, settlement_account=account, **common, date=date)
    except (InvalidAccountPlan, InvalidTemplate) as exc:
        raise CannotPost(f"The shop's settings need fixing: {exc}", "settings") from exc
    except NotDkk as exc:
        raise CannotPost(str(exc), "currency") from exc
    except AccountingError as exc:
        raise CannotPost(str(exc), "accounting") from exc
    except InvalidEvent as exc:
        raise CannotPost(f"The stored order is not valid: {exc}", "invalid_order") from exc
    return VoucherPlan(order, voucher, _pdf_source(order, shop, voucher, refund))


def _method(document: Document) -> str | None:
    method = document.payload.get("method")
    return method if isinstance(method, str) else None


async def _parent_settlement_account(pool: Pool, document: Document) -> int:
    """The account the order's voucher was balanced against: what a payment clears."""
    parent = None
    if document.parent_id is not None:
        parent = await outbox.get(pool, document.shop_id, document.parent_id)
    account = parent.settlement_account if parent is not None else None
    if account is None:
        raise CannotPost("The order's voucher names no account to clear", "no_parent")
    return account


def settlement_account(shop: ShopSettings, method: str | None, *, paid: bool) -> int:
    """The account a voucher is balanced against: for a paid order the deposit account of
    its payment method (or the default one), for an unpaid one the receivable account."""
    if not paid:
        if shop.receivable_account is None:
            raise CannotPost(
                "The order is not paid yet, so its voucher is balanced against a receivable "
                "account: choose the receivable account (Debitorer) in the shop's settings, "
                "then retry",
                "settings",
            )
        return shop.receivable_account
    number = shop.deposit_account(method)
    if number is None:
        for_method = f" for {method.replace('_', ' ')} payments" if method else ""
        raise CannotPost(
            f"The order is paid, so its voucher is balanced against the account the money "
            f"went to: choose the deposit account{for_method} (or a default one) in the "
            "shop's settings, then retry",
            "settings",
        )
    return number


def _remaining(document: Document) -> Decimal:
    """What a cancellation reverses: what the refunds left, else the document's amount."""
    text = document.payload.get("remaining")
    if text is None:
        return document.amount
    try:
        return Decimal(str(text))
    except ArithmeticError:
        raise CannotPost(
            f"The cancellation's remaining amount {text!r} is not a number", "internal"
        ) from None


def _pdf_source(
    order: Order, shop: ShopSettings, voucher: VoucherDraft, refund: Refund | None
) -> PdfSource:
    """The shop's own invoice for the sale; for a reversal or a payment, and for an order
    that brought no PDF, a receipt rendered here (the shop's invoice is not the document of
    a refund)."""
    invoice = order.invoice
    if voucher.kind == "sale" and invoice is not None:
        if invoice.pdf_url is not None:
            return PdfSource(url=invoice.pdf_url)
        if invoice.pdf_base64 is not None:
            return PdfSource(inline=invoice.pdf_base64)
    receipt = receipt_pdf(
        order,
        shop.name,
        vat=voucher.vat,
        language=shop.language,
        refund=refund,
        reversed_total=voucher.total if voucher.kind == "cancellation" else None,
        date=voucher.date,
    )
    return PdfSource(receipt=receipt)
