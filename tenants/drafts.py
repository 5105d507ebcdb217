"""What a document says in Dinero: built when it is posted, not when it was created, from
the stored order (and refund) and the shop's settings as they are at that moment. So an
owner who fixes an account or the invoice text after a refusal gets the fix on the retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from gateway.accounting import (
    AccountingError,
    AccountPlan,
    DocumentDraft,
    InvalidAccountPlan,
    InvalidTemplate,
    copenhagen_date,
    credit_note_for_refund,
    full_credit_for,
    invoice_for,
)
from gateway.db import Pool
from gateway.dinero.models import Language
from gateway.orders import InvalidEvent, Order, parse_order, parse_refund
from tenants.outbox import Document


class CannotPost(Exception):
    """The document cannot go to Dinero as things stand; `message` tells the owner why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ShopSettings:
    name: str
    invoice_text: str
    language: Language
    account_overrides: dict[str, object]
    connection_id: UUID | None
    organization_id: int | None  # of the connection
    # Settlement (issue "Settlement in Dinero"): payments on or off, the deposit account per
    # payment method with "default" as the fallback, and a voucher's receivable account.
    register_payments: bool = False
    payment_accounts: dict[str, object] = field(default_factory=dict)
    receivable_account: int | None = None


async def shop_settings(pool: Pool, shop_id: UUID) -> ShopSettings:
    row = await pool.fetchrow(
        "SELECT s.name, s.invoice_text, s.language, s.account_overrides, "
        "s.register_payments, s.payment_accounts, s.receivable_account, "
        "c.id AS connection_id, c.organization_id FROM shops s "
        "LEFT JOIN dinero_connections c ON c.id = s.connection_id WHERE s.id = $1",
        shop_id,
    )
    if row is None:
        raise CannotPost("The shop no longer exists", "shop_missing")
    return ShopSettings(
        name=row["name"],
        invoice_text=row["invoice_text"],
        language=cast(Language, row["language"]),
        account_overrides=row["account_overrides"],
        connection_id=row["connection_id"],
        organization_id=row["organization_id"],
        register_payments=row["register_payments"],
        payment_accounts=row["payment_accounts"],
        receivable_account=row["receivable_account"],
    )


async def draft_for(
    pool: Pool, document: Document, shop: ShopSettings, *, now: datetime
) -> tuple[Order, DocumentDraft]:
    """The order and the document's body: an invoice, the credit note for one refund
    (`payload.refund_id`), or a full credit of the order (`payload.full`, a cancellation)."""
    row = await pool.fetchrow(
        "SELECT payload, cancelled_at FROM orders WHERE id = $1 AND shop_id = $2",
        document.order_id,
        document.shop_id,
    )
    if row is None:
        raise CannotPost("The order no longer exists", "order_missing")
    try:
        order = parse_order(row["payload"])
        common: dict[str, Any] = {
            "shop_name": shop.name,
            "text_template": shop.invoice_text,
            "plan": AccountPlan.with_overrides(shop.account_overrides),
            "language": shop.language,
        }
        if document.kind == "invoice":
            return order, invoice_for(order, **common)
        if document.payload.get("full"):
            date = copenhagen_date(row["cancelled_at"] or now)
            return order, full_credit_for(order, **common, date=date)
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
        raise CannotPost("The refund this credit note is for is missing", "refund_missing")
    return dict(row)
