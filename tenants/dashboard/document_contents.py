"""A document's page, beyond its state: where its order came from (a Shopify order links to
the order in Shopify's admin) and what the document says in Dinero, line by line with its
account and VAT rate, built exactly as posting builds it (`tenants.posting.drafts`), from the
stored order and the shop's settings as they are now. Support staff answer "why did this
order get that VAT?" from here; `gateway sources preview` answers it for a payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from gateway.accounting import AccountPlan, InvalidAccountPlan
from gateway.db import Connection, Pool
from gateway.orders import Customer
from gateway.shopify.events import event_id
from gateway.shopify.mapping import order_url
from gateway.woocommerce.events import event_id as woocommerce_event_id
from gateway.woocommerce.events import order_url as woocommerce_order_url
from tenants.outbox import repository as outbox
from tenants.posting.attempt import CannotPost
from tenants.posting.drafts import draft_for
from tenants.shops.settings import shop_settings


@dataclass(frozen=True)
class Origin:
    platform: str  # "shopify", "woocommerce", or "api" for the signed ingest API
    url: str | None  # the order on its platform


@dataclass(frozen=True)
class ShownLine:
    description: str | None
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    account: int
    vat_rate: Decimal


@dataclass(frozen=True)
class Contents:
    customer: Customer
    treatment: str  # domestic, eu_business (reverse charge), eu_private, export
    lines_incl_vat: bool
    lines: tuple[ShownLine, ...]
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal


async def origin(conn: Connection | Pool, shop_id: UUID, order_external_id: str) -> Origin:
    """The shop platform the order's first fact came from (Shopify or WooCommerce), with a
    link to the order in its admin; else the signed API."""
    row = await conn.fetchrow(
        "SELECT s.platform, s.store FROM sources s JOIN deliveries d ON d.shop_id = s.shop_id "
        "WHERE s.shop_id = $1 AND d.event_id = ANY($2::text[]) "
        "AND d.event_id LIKE s.platform || ':%' LIMIT 1",
        shop_id,
        [
            event_id(order_external_id, "created"),
            woocommerce_event_id(order_external_id, "created"),
        ],
    )
    if row is None:
        return Origin("api", None)
    if row["platform"] == "woocommerce":
        return Origin("woocommerce", woocommerce_order_url(row["store"], order_external_id))
    return Origin("shopify", order_url(row["store"], order_external_id))


async def contents(
    pool: Pool, shop_id: UUID, document_id: int, *, now: datetime
) -> Contents | str | None:
    """The invoice's or credit note's lines; a sentence when they cannot be built (the
    same problem posting would meet); None for kinds without lines of their own."""
    document = await outbox.get(pool, shop_id, document_id)
    if document is None or document.kind not in ("invoice", "credit_note"):
        return None
    settings = await shop_settings(pool, shop_id)
    if settings is None:
        return None
    try:
        plan = AccountPlan.with_overrides(settings.account_overrides)
        order, draft = await draft_for(pool, document, settings, now=now)
    except InvalidAccountPlan as exc:
        return f"The shop's settings need fixing: {exc}"
    except CannotPost as exc:
        return str(exc)
    return Contents(
        customer=order.customer,
        treatment=str(draft.treatment),
        lines_incl_vat=draft.show_lines_incl_vat,
        lines=tuple(
            ShownLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.amount,
                discount_percent=line.discount,
                account=line.account,
                vat_rate=plan.vat_rate_of(line.account),
            )
            for line in draft.lines
        ),
        total_excl_vat=draft.totals.total_excl_vat,
        total_vat=draft.totals.total_vat,
        total_incl_vat=draft.totals.total_incl_vat,
    )
